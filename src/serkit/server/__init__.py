"""The web app: an upload/record page and a small JSON API around :class:`serkit.inference.Predictor`.

``create_app`` builds the FastAPI application (the predictor is injected, or loaded lazily
on the first request); ``run`` serves it with uvicorn (``serkit serve``); ``ServerSettings``
holds its limits. Modules: ``app`` (wiring), ``routes``, ``upload`` (reading one upload),
``schemas`` (response shapes), ``problems`` (errors -> statuses), ``guards`` (security
middleware), ``limits`` (concurrency and request counts), ``predictor`` (the model),
``settings`` (every limit and its range; imports no web framework).
"""

from __future__ import annotations

from typing import Any

__all__ = ["ServerSettings", "create_app", "run"]


def __getattr__(name: str) -> Any:
    """Imported on first use, so ``serkit.server.settings`` (the CLI's option types) needs no FastAPI."""
    if name in {"create_app", "run"}:
        from serkit.extras import require

        require("serve", f"serkit.server.{name}")
        from serkit.server import app

        return getattr(app, name)
    if name == "ServerSettings":
        from serkit.server.settings import ServerSettings

        return ServerSettings
    raise AttributeError(f"module 'serkit.server' has no attribute {name!r}")
