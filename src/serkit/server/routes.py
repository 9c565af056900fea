"""The page and the JSON API: health, model card, predict; the live stream (WebSocket).

Prediction is CPU-bound, so it runs in the threadpool and the event loop stays responsive;
``AdmissionLimit`` keeps the number of predictions in progress at ``max_concurrent``.
"""

from __future__ import annotations

import functools
import logging

from fastapi import APIRouter, Request, WebSocket
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse

from serkit.errors import AudioError, AudioProblem, SerkitError
from serkit.parallel import release_freed_memory
from serkit.server.limits import Admission, StreamSlots
from serkit.server.live import live_stream
from serkit.server.predictor import PredictorHolder, model_name
from serkit.server.problems import GENERIC_500, ApiError, audio_error_status, documented, error_response
from serkit.server.schemas import HealthOut, ModelOut, PredictionOut, json_safe
from serkit.server.settings import ServerSettings
from serkit.server.upload import FIELD_NAME, MIB, read_upload

logger = logging.getLogger("serkit.server")

PREDICT_BODY = {
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
}


def build_router(
    *, holder: PredictorHolder, settings: ServerSettings, admission: Admission, slots: StreamSlots, page: str
) -> APIRouter:
    router = APIRouter()
    limit_bytes = settings.max_upload_bytes

    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(page)

    @router.get(
        "/api/health",
        response_model=HealthOut,
        summary="Liveness, model readiness and the last minute's requests",
        description="Loads the model if needed; 503 when it cannot be loaded, or (status 'degraded') when the "
        "last predictions all failed inside the server.",
        responses=documented(503),
    )
    async def health() -> JSONResponse:
        predictor = await holder.get()
        description = await holder.describe()
        stats = admission.stats
        degraded = stats.degraded
        body = {
            "status": "degraded" if degraded else "ok",
            "model": model_name(predictor, description),
            "labels": [str(label) for label in predictor.labels],
            "max_upload_mb": limit_bytes / MIB,
            "max_concurrent": admission.max_concurrent,
            "in_flight": admission.in_flight,
            **stats.last_minute(),
            "consecutive_failures": stats.consecutive_failures,
            "max_streams": slots.limit,
            "live_streams": slots.open,
        }
        return JSONResponse(body, status_code=503 if degraded else 200)

    @router.get(
        "/api/model",
        response_model=ModelOut,
        summary="Model card",
        description="`Predictor.describe()`: name, features, labels, evaluation summary, licence and card text.",
        responses=documented(503),
    )
    async def model() -> JSONResponse:
        return JSONResponse(await holder.describe())

    @router.post(
        "/api/predict",
        response_model=PredictionOut,
        summary="Predict the emotion in a recording",
        description=(
            "Send one audio file as `multipart/form-data` in the field `file`. The format is "
            "detected from the content. Long recordings also get a `segments` timeline. The "
            "upload is decoded in memory and never stored."
        ),
        responses=documented(400, 403, 408, 413, 415, 422, 500, 503),
        openapi_extra=PREDICT_BODY,
    )
    async def predict(request: Request) -> JSONResponse:
        data, name = await read_upload(
            request, limit_bytes=limit_bytes, read_timeout=settings.read_timeout, upload_timeout=settings.upload_timeout
        )
        if not data:
            raise ApiError(400, f"{name}: empty file (0 bytes)")
        predictor = await holder.get()
        try:
            prediction = await run_in_threadpool(functools.partial(predictor.predict_bytes, data, name=name))
            result = json_safe(prediction.to_dict())
        except AudioError as exc:
            if exc.kind is AudioProblem.TOO_LONG:  # what was decoded before the bound goes back to the system
                await run_in_threadpool(release_freed_memory)
            return error_response(audio_error_status(exc), str(exc))
        except SerkitError as exc:
            return error_response(422, str(exc))
        except Exception:
            logger.exception("prediction failed for upload %r (%d bytes)", name, len(data))
            return error_response(500, GENERIC_500)
        finally:
            del data
        if result.get("error"):
            return JSONResponse(result, status_code=422)
        return JSONResponse(result)

    @router.websocket("/api/stream")
    async def stream(websocket: WebSocket) -> None:
        """Live prediction over a WebSocket: see ``serkit.server.live`` for the protocol."""
        await live_stream(websocket, holder=holder, settings=settings, slots=slots)

    return router
