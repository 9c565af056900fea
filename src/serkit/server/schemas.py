"""The API's response shapes (pydantic, for the OpenAPI page) and the one JSON-safe conversion."""

from __future__ import annotations

import math
from enum import Enum
from pathlib import PurePath
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


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
    status: str = Field(
        description="'ok' when the model is loaded and predictions succeed; 'degraded' (HTTP 503) when the last "
        "predictions all failed inside the server.",
        examples=["ok"],
    )
    model: str | None = Field(description="Name of the loaded model.")
    labels: list[str] = Field(description="The labels the model predicts, in output order.")
    max_upload_mb: float = Field(description="Largest accepted upload, MiB.")
    max_concurrent: int = Field(description="Predictions (uploads included) in progress at once; more get 503.")
    in_flight: int = Field(description="Predictions in progress now.")
    requests_last_minute: int = Field(description="Prediction requests answered in the last 60 s (any status).")
    errors_last_minute: int = Field(description="Of those, failures inside the server (5xx, not 503 busy).")
    busy_last_minute: int = Field(description="Requests refused with 503 because the server was busy, last 60 s.")
    consecutive_failures: int = Field(description="Server failures since the last successful prediction.")
    max_streams: int = Field(description="Live streams (/api/stream) allowed at once; more are refused.")
    live_streams: int = Field(description="Live streams open now.")


class ModelOut(BaseModel):
    """`Predictor.describe()`: model name, features, labels, metrics summary, model card text.

    `path` is the bundle's folder name only, never a path on the server."""

    model_config = ConfigDict(extra="allow")


def json_safe(obj: Any) -> Any:
    """JSON-safe copy: numpy scalars/arrays, paths, enums and tuples become plain JSON values."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, Enum):
        return json_safe(obj.value)
    if isinstance(obj, bool) or obj is None or isinstance(obj, (int, str)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, PurePath):
        return str(obj)
    tolist = getattr(obj, "tolist", None)  # numpy scalar or array
    if callable(tolist):
        return json_safe(tolist())
    return str(obj)
