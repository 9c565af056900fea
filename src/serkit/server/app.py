"""FastAPI application: wiring of the routes, the middleware and the error handlers; ``run`` for uvicorn.

Design notes
------------
* The predictor is injected (``create_app(predictor)``) or loaded once, lazily, on the first
  request that needs it (``Predictor.load(model_path)``), in a worker thread. ``run`` (``serkit
  serve``) loads it, and predicts once, before binding the port.
* Layers, outermost first: security headers -> Host check (400) -> same-origin check for
  POST (403) -> admission limit (503 + Retry-After) -> routes. A refused request costs no
  body read and no model time.
* Every refusal is a 4xx/503 ``{"error": "..."}``; anything unexpected is logged and answered
  with a generic 500 ``{"error": "internal server error"}`` and counted in ``/api/health``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from serkit.server.guards import HostGuard, OriginGuard, SecurityHeaders
from serkit.server.limits import Admission, AdmissionLimit, RequestStats, StreamSlots
from serkit.server.predictor import PredictorHolder, load_for_serving
from serkit.server.problems import GENERIC_500, ApiError, error_response
from serkit.server.routes import build_router
from serkit.server.settings import LOOPBACK_HOSTS, ServerSettings, check
from serkit.server.upload import safe_upload_name

__all__ = ["create_app", "run", "safe_upload_name", "uvicorn_config"]

logger = logging.getLogger("serkit.server")

STATIC_DIR = Path(__file__).with_name("static")
WILDCARD_BINDS = {"0.0.0.0", "::", ""}


def create_app(
    predictor: Any = None,
    *,
    model_path: str | Path | None = None,
    settings: ServerSettings | None = None,
    **options: Any,
) -> FastAPI:
    """Build the app. ``predictor`` is used as is; when None, ``Predictor.load(model_path)``
    runs once, on the first request that needs the model.

    ``options`` are ``ServerSettings`` fields (``max_upload_mb=1``...), for when no ``settings``
    object is given.
    """
    if settings is not None and options:
        raise TypeError(f"give settings or options ({', '.join(options)}), not both")
    settings = settings if settings is not None else ServerSettings(**options)
    holder = PredictorHolder(predictor, model_path)
    admission = Admission(max_concurrent=settings.max_concurrent, stats=RequestStats())
    slots = StreamSlots(limit=settings.max_streams)
    limit_bytes = settings.max_upload_bytes
    page = (STATIC_DIR / "index.html").read_text(encoding="utf-8").replace("__MAX_UPLOAD_BYTES__", str(limit_bytes))

    from serkit import __version__

    app = FastAPI(
        title="serkit",
        version=__version__,
        description=(
            "Speech emotion recognition. Upload a speech recording (wav, flac, ogg, aiff or mp3; "
            f"up to {settings.max_upload_mb:g} MB) to `/api/predict`. The model predicts *acted* emotions "
            "(the languages it was trained on are in `/api/model`, with its card, metrics and licence). "
            "Live: a WebSocket at "
            "`/api/stream` takes 16-bit PCM and answers with an update every half second and a final timeline "
            "(protocol: the Live page of the documentation, docs/live.md)."
        ),
    )
    app.state.predictor_holder = holder
    app.state.settings = settings
    app.state.admission = admission
    app.state.stream_slots = slots

    # add_middleware puts each new one outside the previous: added innermost first.
    app.add_middleware(AdmissionLimit, admission=admission)
    app.add_middleware(OriginGuard, allowed=settings.allowed_origins)
    if settings.allowed_origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.allowed_origins),
            allow_methods=["GET", "POST"],
            expose_headers=["Retry-After"],
            max_age=600,
        )
    if settings.allowed_hosts is not None:
        app.add_middleware(HostGuard, allowed=settings.allowed_hosts)
    app.add_middleware(SecurityHeaders)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"error": str(exc.detail)}, status_code=exc.status_code, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg", "invalid")))
        return error_response(422, "invalid request: " + ("; ".join(parts) or "validation failed"))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(500, GENERIC_500)

    app.include_router(build_router(holder=holder, settings=settings, admission=admission, slots=slots, page=page))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def default_allowed_hosts(bind: str) -> tuple[str, ...]:
    """The bind address and the loopback names (a wildcard bind adds nothing: name the hosts yourself)."""
    return tuple(dict.fromkeys(([] if bind in WILDCARD_BINDS else [bind]) + list(LOOPBACK_HOSTS)))


def uvicorn_config(app: FastAPI, *, host: str, port: int, settings: ServerSettings, log_level: str = "info") -> Any:
    """The one uvicorn configuration (``run`` and the tests): idle connections closed after
    ``keep_alive_timeout``; no Server header; WebSocket messages over twice ``max_message_kb`` cut by
    the protocol layer before they are buffered (those up to twice get the stream's own message)."""
    import uvicorn

    # uvicorn annotates timeout_keep_alive as int, but only hands it to loop.call_later, which takes seconds as a float.
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        server_header=False,
        timeout_keep_alive=settings.keep_alive_timeout,  # type: ignore[arg-type]
        ws_max_size=2 * settings.max_message_bytes,
    )


def run(
    model_path: str | Path | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    settings: ServerSettings | None = None,
    log_level: str = "info",
) -> None:
    """Serve the app with uvicorn (``serkit serve``). Blocks until interrupted.

    The model is loaded and predicts once before the port is bound: a model that cannot do
    either stops here with serkit's one-line error. Without ``settings.allowed_hosts`` the
    server accepts the bind address and the loopback names only (DNS rebinding).
    """
    import dataclasses

    import uvicorn

    check("port", port)
    settings = settings if settings is not None else ServerSettings()
    if settings.allowed_hosts is None:
        settings = dataclasses.replace(settings, allowed_hosts=default_allowed_hosts(host))
    predictor = load_for_serving(model_path)
    app = create_app(predictor, model_path=model_path, settings=settings)
    if host not in {"127.0.0.1", "localhost", "::1"}:
        logger.warning(
            "serving on %s: browsers allow microphone recording only on https:// or localhost pages; "
            "file upload works everywhere",
            host,
        )
    if host in WILDCARD_BINDS and set(settings.allowed_hosts or ()) <= set(LOOPBACK_HOSTS):
        logger.warning(
            "listening on all interfaces, but only requests for %s are accepted: pass --allowed-hosts "
            "with the names or addresses clients use",
            ", ".join(LOOPBACK_HOSTS),
        )
    uvicorn.Server(uvicorn_config(app, host=host, port=port, settings=settings, log_level=log_level)).run()
