"""FastAPI application: the upload/record page and the JSON API.

Design notes
------------
* The predictor is injected (``create_app(predictor)``) or loaded once, lazily, on the first
  request that needs it (``Predictor.load(model_path)``), in a worker thread.
* Uploads never touch the disk: the multipart body is parsed as it streams in and only the
  bytes of the ``file`` part are kept, in memory, bounded by ``max_upload_mb``. A declared
  ``Content-Length`` over the limit is refused before reading anything; a body without one
  is refused (413) as soon as the running count passes the limit.
* The decoder decides what is audio (by content, never by name or declared MIME type); every
  bad upload is a 4xx ``{"error": "..."}``. Anything unexpected is logged and answered with a
  generic 500 ``{"error": "internal server error"}``.
* Prediction is CPU-bound, so it runs in the threadpool and the event loop stays responsive.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
from enum import Enum
from pathlib import Path, PurePath
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serkit.errors import AudioError, SerkitError

logger = logging.getLogger("serkit.server")

STATIC_DIR = Path(__file__).with_name("static")
MIB = 1024 * 1024
# Room for the multipart framing (boundaries, part headers) around the file's own bytes.
MULTIPART_OVERHEAD = 64 * 1024
FIELD_NAME = "file"
GENERIC_500 = "internal server error"

# The page only talks to its own origin; /docs (FastAPI's Swagger UI) loads its assets from a
# CDN, so the policy is applied to the page and its static files only.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


# --------------------------------------------------------------------------- response models
class ErrorOut(BaseModel):
    """Every error the API returns has this shape."""

    error: str = Field(description="One-line, human-readable reason.", examples=["x.wav: empty file (0 bytes)"])


class SegmentOut(BaseModel):
    start: float = Field(description="Segment start, seconds from the beginning of the audio.")
    end: float = Field(description="Segment end, seconds.")
    label: str = Field(description="Most probable emotion in this segment.")
    confidence: float = Field(description="Probability of `label` in this segment (0-1).")
    probabilities: dict[str, float] = Field(description="Probability of every label in this segment.")


class PredictionOut(BaseModel):
    """Exactly `Prediction.to_dict()`; optional keys are omitted, not null."""

    path: str | None = Field(description="The upload's base name (never a client-given path), or 'upload'.")
    label: str | None = Field(description="Predicted emotion (one of the model's labels); null on failure.")
    confidence: float | None = Field(description="Probability of `label` (0-1); null on failure.")
    probabilities: dict[str, float] | None = Field(
        description="Probability of every label, in the model's label order; null on failure."
    )
    duration: float | None = Field(default=None, description="Seconds of audio analysed (when known).")
    segments: list[SegmentOut] | None = Field(
        default=None, description="Per-segment timeline; present only for long audio."
    )
    error: str | None = Field(default=None, description="Present only when the prediction failed.")


class HealthOut(BaseModel):
    status: str = Field(description="'ok' when the model is loaded and ready.", examples=["ok"])
    model: str | None = Field(description="Name of the loaded model.")
    labels: list[str] = Field(description="The labels the model predicts, in output order.")
    max_upload_mb: float = Field(description="Largest accepted upload, MiB.")


class ModelOut(BaseModel):
    """`Predictor.describe()`: model name, features, labels, metrics summary, model card text."""

    model_config = ConfigDict(extra="allow")


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {
        400: "Empty file or malformed multipart body.",
        413: "Upload larger than the server's limit (`--max-upload-mb`).",
        415: "Not a recognised audio format (decided from the content, not the name).",
        422: "No `file` field, or audio that cannot be used (too short, silent, ...).",
        500: "Unexpected server error (logged); the message is generic.",
        503: "The model could not be loaded.",
    }
    return {code: {"model": ErrorOut, "description": text[code]} for code in codes}


# --------------------------------------------------------------------------- helpers
class ApiError(Exception):
    """A request the server refuses on purpose: becomes ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def safe_upload_name(raw: str | None) -> str:
    """The client's file name reduced to a harmless display name: base name only, printable.

    Only ever used as a label in messages and in the result's ``path``; nothing is written
    under it.
    """
    if not raw:
        return "upload"
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    if name in {"", ".", ".."}:
        return "upload"
    if len(name) > 128:
        suffix = PurePath(name).suffix[:16]
        name = name[: 128 - len(suffix)] + suffix
    return name


def _plain(obj: Any) -> Any:
    """JSON-safe copy: numpy scalars/arrays, paths, enums and tuples become plain JSON values."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [_plain(v) for v in obj]
    if isinstance(obj, Enum):
        return _plain(obj.value)
    if isinstance(obj, bool) or obj is None or isinstance(obj, (int, str)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, PurePath):
        return str(obj)
    tolist = getattr(obj, "tolist", None)  # numpy scalar or array
    if callable(tolist):
        return _plain(tolist())
    return str(obj)


def _too_large(limit_bytes: int) -> ApiError:
    return ApiError(413, f"upload too large: the limit is {limit_bytes / MIB:g} MB")


def _audio_error_status(exc: SerkitError) -> int:
    problem = str(getattr(exc, "problem", exc)).lower()
    if "empty file" in problem:
        return 400
    if "not a recognised audio format" in problem or "format not recognised" in problem:
        return 415
    return 422


class _FilePart:
    """python-multipart callbacks that keep only the bytes of the ``file`` field, bounded."""

    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes
        self.data: bytearray | None = None
        self.filename: str | None = None
        self.seen_fields: list[str] = []
        self.finished = False
        self.ended = False
        self._in_file = False
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_end": self.on_end,
        }

    def on_part_begin(self) -> None:
        self._disposition = b""
        self._in_file = False

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        if self._header_name.strip().lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name = b""
        self._header_value = b""

    def on_headers_finished(self) -> None:
        from python_multipart.multipart import parse_options_header

        _, options = parse_options_header(self._disposition)
        field = options.get(b"name", b"").decode("utf-8", "replace")
        self.seen_fields.append(field)
        if field != FIELD_NAME:
            return
        if self.data is not None:
            raise ApiError(422, f"send exactly one '{FIELD_NAME}' field")
        self._in_file = True
        self.data = bytearray()
        raw_name = options.get(b"filename")
        self.filename = None if raw_name is None else raw_name.decode("utf-8", "replace")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if not self._in_file or self.data is None:
            return  # other fields are counted against the body limit, then dropped
        if len(self.data) + (end - start) > self.limit_bytes:
            raise _too_large(self.limit_bytes)
        self.data += data[start:end]

    def on_part_end(self) -> None:
        if self._in_file:
            self.finished = True
        self._in_file = False

    def on_end(self) -> None:
        self.ended = True


async def read_upload(request: Request, limit_bytes: int) -> tuple[bytes, str]:
    """Stream the multipart body, keep the ``file`` part in memory; returns (bytes, safe name)."""
    from python_multipart.exceptions import MultipartParseError
    from python_multipart.multipart import MultipartParser, parse_options_header

    needs = f"send the audio as multipart/form-data in a field named '{FIELD_NAME}'"
    mime, params = parse_options_header(request.headers.get("content-type", ""))
    if mime != b"multipart/form-data":
        raise ApiError(422, f"no file uploaded: {needs}")
    boundary = params.get(b"boundary")
    if not boundary:
        raise ApiError(400, "malformed multipart body: no boundary in Content-Type")

    body_limit = limit_bytes + MULTIPART_OVERHEAD
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            declared_bytes = int(declared)
        except ValueError:
            raise ApiError(400, "invalid Content-Length header") from None
        if declared_bytes > body_limit:
            raise _too_large(limit_bytes)  # refused before reading a byte of the body

    part = _FilePart(limit_bytes)
    parser = MultipartParser(boundary, part.callbacks())
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > body_limit:
                raise _too_large(limit_bytes)
            if chunk:
                parser.write(chunk)
        parser.finalize()
    except MultipartParseError as exc:
        raise ApiError(400, f"malformed multipart body: {str(exc).splitlines()[0] if str(exc) else 'parse error'}") from None
    except ClientDisconnect:
        raise ApiError(400, "the client disconnected during the upload") from None

    if part.data is None:
        got = ", ".join(repr(f) for f in part.seen_fields)
        raise ApiError(422, f"no file uploaded: {needs}" + (f" (got fields: {got})" if got else ""))
    if not part.finished or not part.ended:
        raise ApiError(400, "malformed multipart body: the upload is incomplete")
    return bytes(part.data), safe_upload_name(part.filename)


class _PredictorHolder:
    """The injected predictor, or one loaded once (thread-safe) on first use."""

    def __init__(self, predictor: Any, model_path: str | Path | None) -> None:
        self._predictor = predictor
        self._model_path = model_path
        self._lock = threading.Lock()
        self._description: dict[str, Any] | None = None

    def _load(self) -> Any:
        with self._lock:
            if self._predictor is None:
                from serkit.inference import Predictor

                logger.info("loading model %s", self._model_path or "(bundled default)")
                self._predictor = Predictor.load(self._model_path)
            return self._predictor

    async def get(self) -> Any:
        if self._predictor is not None:
            return self._predictor
        try:
            return await run_in_threadpool(self._load)
        except SerkitError as exc:
            logger.error("model could not be loaded: %s", exc)
            raise ApiError(503, f"model could not be loaded: {exc}") from None

    async def describe(self) -> dict[str, Any]:
        predictor = await self.get()
        if self._description is None:
            described = await run_in_threadpool(predictor.describe)
            self._description = _plain(dict(described))
        return self._description


def _model_name(predictor: Any, description: dict[str, Any]) -> str | None:
    for key in ("name", "model", "model_name"):
        value = description.get(key)
        if isinstance(value, str) and value:
            return value
    name = getattr(predictor, "name", None)
    return name if isinstance(name, str) else None


class _SecurityHeaders:
    """Pure ASGI middleware: no-sniff everywhere, a strict CSP on the page and its assets."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        page = path == "/" or path.startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"no-referrer"))
                if page:
                    headers.append((b"content-security-policy", PAGE_CSP.encode()))
                    headers.append((b"x-frame-options", b"DENY"))
                    headers.append((b"permissions-policy", b"microphone=(self)"))
                    headers.append((b"cache-control", b"no-cache"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


# --------------------------------------------------------------------------- the app
def create_app(
    predictor: Any = None,
    *,
    model_path: str | Path | None = None,
    max_upload_mb: float = 25,
) -> FastAPI:
    """Build the app. ``predictor`` is used as is; when None, ``Predictor.load(model_path)``
    runs once, on the first request that needs the model."""
    if not max_upload_mb or max_upload_mb <= 0:
        raise ValueError(f"max_upload_mb must be positive, got {max_upload_mb!r}")
    limit_bytes = int(max_upload_mb * MIB)
    holder = _PredictorHolder(predictor, model_path)
    page = (STATIC_DIR / "index.html").read_text(encoding="utf-8").replace("__MAX_UPLOAD_BYTES__", str(limit_bytes))

    from serkit import __version__

    app = FastAPI(
        title="serkit",
        version=__version__,
        description=(
            "Speech emotion recognition. Upload a speech recording (wav, flac, ogg, aiff or mp3; "
            f"up to {max_upload_mb:g} MB) to `/api/predict`. The model predicts *acted* emotions "
            "in English speech; see `/api/model` for its card, metrics and licence."
        ),
    )
    app.state.predictor_holder = holder
    app.state.max_upload_bytes = limit_bytes
    app.add_middleware(_SecurityHeaders)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg", "invalid")))
        return _error(422, "invalid request: " + ("; ".join(parts) or "validation failed"))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return _error(500, GENERIC_500)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get(
        "/api/health",
        response_model=HealthOut,
        summary="Liveness and model readiness",
        description="Loads the model if needed; 503 when it cannot be loaded.",
        responses=_errors(503),
    )
    async def health() -> JSONResponse:
        predictor = await holder.get()
        description = await holder.describe()
        return JSONResponse(
            {
                "status": "ok",
                "model": _model_name(predictor, description),
                "labels": [str(label) for label in predictor.labels],
                "max_upload_mb": limit_bytes / MIB,
            }
        )

    @app.get(
        "/api/model",
        response_model=ModelOut,
        summary="Model card",
        description="`Predictor.describe()`: name, features, labels, evaluation summary, licence and card text.",
        responses=_errors(503),
    )
    async def model() -> JSONResponse:
        return JSONResponse(await holder.describe())

    @app.post(
        "/api/predict",
        response_model=PredictionOut,
        summary="Predict the emotion in a recording",
        description=(
            "Send one audio file as `multipart/form-data` in the field `file`. The format is "
            "detected from the content. Long recordings also get a `segments` timeline. The "
            "upload is decoded in memory and never stored."
        ),
        responses=_errors(400, 413, 415, 422, 500, 503),
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "required": [FIELD_NAME],
                            "properties": {
                                FIELD_NAME: {
                                    "type": "string",
                                    "format": "binary",
                                    "description": "Speech audio: wav, flac, ogg, aiff or mp3.",
                                }
                            },
                        }
                    }
                },
            }
        },
    )
    async def predict(request: Request) -> JSONResponse:
        data, name = await read_upload(request, limit_bytes)
        if not data:
            raise ApiError(400, f"{name}: empty file (0 bytes)")
        predictor = await holder.get()
        try:
            prediction = await run_in_threadpool(functools.partial(predictor.predict_bytes, data, name=name))
            result = _plain(prediction.to_dict())
        except AudioError as exc:
            return _error(_audio_error_status(exc), str(exc))
        except SerkitError as exc:
            return _error(422, str(exc))
        except Exception:
            logger.exception("prediction failed for upload %r (%d bytes)", name, len(data))
            return _error(500, GENERIC_500)
        finally:
            del data
        if result.get("error"):
            return JSONResponse(result, status_code=422)
        return JSONResponse(result)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def run(
    model_path: str | Path | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    max_upload_mb: float = 25,
    *,
    preload: bool = True,
    log_level: str = "info",
) -> None:
    """Serve the app with uvicorn (``serkit serve``). Blocks until interrupted.

    With ``preload`` (the default) the model is loaded before the server starts, so a bad
    ``--model`` fails at once with serkit's one-line error instead of on the first request.
    """
    import uvicorn

    predictor = None
    if preload:
        from serkit.inference import Predictor

        predictor = Predictor.load(model_path)
    app = create_app(predictor, model_path=model_path, max_upload_mb=max_upload_mb)
    if host not in {"127.0.0.1", "localhost", "::1"}:
        logger.warning(
            "serving on %s: browsers allow microphone recording only on https:// or localhost pages; "
            "file upload works everywhere",
            host,
        )
    uvicorn.run(app, host=host, port=port, log_level=log_level, server_header=False)
