"""How a refused request is answered: one error type, one JSON shape, one table from audio problems to statuses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import JSONResponse

from serkit.errors import AudioError, AudioProblem
from serkit.inference import MAX_UPLOAD_SAMPLES, MAX_UPLOAD_SECONDS
from serkit.server.schemas import ErrorOut

GENERIC_500 = "internal server error"
RETRY_AFTER_SECONDS = 1

# What is wrong with an upload -> the HTTP status it gets. Every kind is listed, so a new kind is a
# decision here (a test checks the table is complete), not a silent 422.
AUDIO_STATUS: Mapping[AudioProblem, int] = {
    AudioProblem.EMPTY: 400,
    AudioProblem.UNRECOGNISED: 415,
    AudioProblem.TOO_LONG: 413,
    AudioProblem.NOT_FOUND: 422,
    AudioProblem.CORRUPT: 422,
    AudioProblem.TRUNCATED: 422,
    AudioProblem.TOO_SHORT: 422,
    AudioProblem.SILENT: 422,
    AudioProblem.BAD_SAMPLE_RATE: 422,
    AudioProblem.INVALID_SAMPLES: 422,
    AudioProblem.NO_SPEECH: 422,
}

STATUS_TEXT = {
    400: "Empty file, malformed multipart body, or a Host name the server does not accept.",
    403: "A cross-origin request from a page of another site (same origin only, unless `--allowed-origins`).",
    408: "The request body did not arrive in time (`--read-timeout`, `--upload-timeout`); the connection is closed.",
    413: f"Upload larger than the server's limit (`--max-upload-mb`), or audio longer than {MAX_UPLOAD_SECONDS / 60:g} "
    f"minutes or than {MAX_UPLOAD_SAMPLES / 1e6:g} M decoded samples (channels x rate x seconds).",
    415: "Not a recognised audio format (decided from the content, not the name).",
    422: "No `file` field, or audio that cannot be used (too short, silent, ...).",
    500: "Unexpected server error (logged); the message is generic.",
    503: "The server is busy (`--max-concurrent` requests in progress; retry after `Retry-After` seconds), "
    "or the model could not be loaded.",
}


class ApiError(Exception):
    """A request the server refuses on purpose: becomes ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def error_response(status: int, message: str, *, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=dict(headers or {}))


def audio_error_status(exc: AudioError) -> int:
    return AUDIO_STATUS[exc.kind]


def documented(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for these error statuses."""
    return {code: {"model": ErrorOut, "description": STATUS_TEXT[code]} for code in codes}
