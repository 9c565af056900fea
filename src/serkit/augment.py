"""Training-time augmentation: noise, time stretch, pitch shift, SpecAugment-style masks.

Only training folds are ever augmented (see evaluation): augmented copies are extra
training rows, never validation or test rows. Every copy is reproducible from
(file, augmentation list, copy index, seed), which is also its feature-cache key.
"""

from __future__ import annotations

import hashlib
from enum import Enum

import numpy as np

from serkit.errors import UnknownNameError


class Augmentation(str, Enum):
    NOISE = "noise"
    STRETCH = "stretch"
    PITCH = "pitch"
    SPECAUGMENT = "specaugment"


AUDIO_AUGMENTATIONS = (Augmentation.NOISE, Augmentation.STRETCH, Augmentation.PITCH)


def parse_augmentations(spec: str | None) -> list[Augmentation]:
    if not spec:
        return []
    out = []
    for part in spec.split(","):
        part = part.strip().lower()
        if not part:
            continue
        try:
            out.append(Augmentation(part))
        except ValueError:
            raise UnknownNameError("augmentation", part, [a.value for a in Augmentation]) from None
    return out


def rng_for(signal: np.ndarray, spec: str, seed: int, copy: int) -> np.random.Generator:
    """The random stream of one augmented copy: reproducible from (audio, augmentations, seed, copy)."""
    digest = hashlib.sha256(signal[:4096].tobytes() + f"{spec}|{seed}|{copy}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def add_noise(signal: np.ndarray, rng: np.random.Generator, snr_db: tuple[float, float] = (10.0, 30.0)) -> np.ndarray:
    snr = rng.uniform(*snr_db)
    power = float(np.mean(signal**2)) + 1e-12
    noise = rng.standard_normal(len(signal)).astype(np.float32) * np.sqrt(power / 10 ** (snr / 10))
    return (signal + noise).astype(np.float32)


def time_stretch(signal: np.ndarray, rng: np.random.Generator, rate: tuple[float, float] = (0.8, 1.25)) -> np.ndarray:
    import librosa

    return librosa.effects.time_stretch(signal, rate=float(rng.uniform(*rate))).astype(np.float32)


def pitch_shift(signal: np.ndarray, rng: np.random.Generator, semitones: float = 2.0, sr: int = 16000) -> np.ndarray:
    import librosa

    steps = float(rng.uniform(-semitones, semitones))
    return librosa.effects.pitch_shift(signal, sr=sr, n_steps=steps, res_type="soxr_hq").astype(np.float32)


def apply_augmentations(signal: np.ndarray, spec: str, *, seed: int = 0, copy: int = 0) -> np.ndarray:
    """Apply every listed audio augmentation, in order, with random strengths."""
    rng = rng_for(signal, spec, seed, copy)
    out = signal
    for aug in parse_augmentations(spec):
        if aug is Augmentation.NOISE:
            out = add_noise(out, rng)
        elif aug is Augmentation.STRETCH:
            out = time_stretch(out, rng)
        elif aug is Augmentation.PITCH:
            out = pitch_shift(out, rng)
    peak = float(np.max(np.abs(out))) if out.size else 0.0
    return out / peak * 0.99 if peak > 1.0 else out


def spec_augment(
    matrix: np.ndarray, rng: np.random.Generator, *, n_masks: int = 2, max_freq: int = 4, max_time: int = 20
) -> np.ndarray:
    """Zero random frequency bands and time spans of a (features, frames) matrix."""
    out = matrix.copy()
    n_f, n_t = out.shape[-2:]
    fill = float(out.mean())
    for _ in range(n_masks):
        f = int(rng.integers(0, max_freq + 1))
        f0 = int(rng.integers(0, max(1, n_f - f)))
        out[..., f0 : f0 + f, :] = fill
        t = int(rng.integers(0, max_time + 1))
        t0 = int(rng.integers(0, max(1, n_t - t)))
        out[..., :, t0 : t0 + t] = fill
    return out
