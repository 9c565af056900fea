"""The model behind the API: injected, or loaded once; what of it the API may show.

``/api/model`` shows ``Predictor.describe()`` with the bundle's folder name in place of its path
on the server, and a model that fails to load is reported by name only (the reason goes to the
server log): no response discloses where things live on the server.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path, PurePath
from typing import Any

import numpy as np
from fastapi.concurrency import run_in_threadpool

from serkit.errors import BundleError, SerkitError
from serkit.server.problems import ApiError
from serkit.server.schemas import json_safe

logger = logging.getLogger("serkit.server")

WARM_UP_SECONDS = 1.5


def model_label(model_path: str | Path | None) -> str:
    """How a model is named to clients: its folder name, or 'the bundled default model'."""
    return "the bundled default model" if model_path is None else repr(PurePath(str(model_path)).name)


def public_description(described: dict[str, Any]) -> dict[str, Any]:
    """``describe()`` as JSON, its ``path`` cut to the bundle's folder name."""
    out = json_safe(dict(described))
    if isinstance(out.get("path"), str):
        out["path"] = PurePath(out["path"]).name
    return out


def model_name(predictor: Any, description: dict[str, Any]) -> str | None:
    for key in ("name", "model", "model_name"):
        value = description.get(key)
        if isinstance(value, str) and value:
            return value
    name = getattr(predictor, "name", None)
    return name if isinstance(name, str) else None


def warm_up_signal() -> np.ndarray:
    """1.5 s of a seeded voiced-like sound at 16 kHz: passes the loader's checks, exercises every extractor."""
    from serkit import audio

    rng = np.random.default_rng(0)
    t = np.arange(int(WARM_UP_SECONDS * audio.SAMPLE_RATE)) / audio.SAMPLE_RATE
    pitch = 140.0 + 20.0 * np.sin(2 * np.pi * 3.0 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / audio.SAMPLE_RATE
    voiced = sum(np.sin(k * phase) / k for k in range(1, 8)) * (0.5 + 0.5 * np.sin(2 * np.pi * 2.0 * t) ** 2)
    signal = 0.3 * voiced / np.max(np.abs(voiced)) + rng.normal(0.0, 0.003, t.size)
    return signal.astype(np.float32)


def load_for_serving(model_path: str | Path | None) -> Any:
    """Load the model and predict once, so ``serve`` stops before binding when either fails.

    The warm-up also builds what extractors create on first use (the first prediction is
    otherwise ~0.4 s slower).
    """
    from serkit.inference import Predictor

    predictor = Predictor.load(model_path)
    try:
        predictor.predict_signal(warm_up_signal(), name="<warm-up>", segment=False)
    except SerkitError as exc:
        raise BundleError(f"{model_path or 'default model'}: loads, but cannot predict: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - any failure here means: do not start serving this model
        detail = str(exc).splitlines()[0] if str(exc) else ""
        raise BundleError(
            f"{model_path or 'default model'}: loads, but cannot predict: "
            f"{type(exc).__name__}{': ' + detail if detail else ''}"
        ) from None
    return predictor


class PredictorHolder:
    """The injected predictor, or one loaded once (thread-safe) on first use."""

    def __init__(self, predictor: Any, model_path: str | Path | None) -> None:
        self.predictor = predictor
        self.model_path = model_path
        self.lock = threading.Lock()
        self.description: dict[str, Any] | None = None

    def load(self) -> Any:
        with self.lock:
            if self.predictor is None:
                from serkit.inference import Predictor

                logger.info("loading model %s", self.model_path or "(bundled default)")
                self.predictor = Predictor.load(self.model_path)
            return self.predictor

    async def get(self) -> Any:
        if self.predictor is not None:
            return self.predictor
        try:
            return await run_in_threadpool(self.load)
        except SerkitError as exc:
            logger.error("model could not be loaded: %s", exc)
            raise ApiError(
                503, f"model {model_label(self.model_path)} could not be loaded (see the server log)"
            ) from None

    async def describe(self) -> dict[str, Any]:
        predictor = await self.get()
        if self.description is None:
            described = await run_in_threadpool(predictor.describe)
            self.description = public_description(described)
        return self.description
