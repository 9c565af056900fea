"""The web app: an upload/record page and a small JSON API around :class:`serkit.inference.Predictor`.

``create_app`` builds the FastAPI application (the predictor is injected, or loaded lazily
on the first request); ``run`` serves it with uvicorn (``serkit serve``).
"""

from __future__ import annotations

from serkit.server.app import create_app, run

__all__ = ["create_app", "run"]
