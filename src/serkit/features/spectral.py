"""Hand-crafted spectral features, all computed from one shared STFT per clip.

The seed projects call librosa once per feature, so each feature recomputes its own
STFT (and chroma re-estimates tuning). Here a clip is framed and transformed once,
and every feature is a cheap projection of that one power spectrogram.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache

import numpy as np

from serkit.audio import SAMPLE_RATE
from serkit.features.base import FeatureConfig, FeatureExtractor, FeatureKind


@lru_cache(maxsize=16)
def _window(n_fft: int) -> np.ndarray:
    # Periodic Hann, as librosa/scipy use for spectral analysis.
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)


def _hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above (librosa's default, htk=False)."""
    f = np.asarray(f, dtype=np.float64)
    mels = f / (200.0 / 3)
    log = f >= 1000.0
    return np.where(log, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0), mels)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), m * (200.0 / 3))


@lru_cache(maxsize=16)
def mel_filterbank(sr: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """Slaney-normalised triangular mel filters (n_mels, 1 + n_fft // 2), float32: the filters of
    librosa.filters.mel (and of OpenAI's Whisper front end), in numpy, so no prediction path imports
    librosa (1.5 s of start-up)."""
    fmax = sr / 2.0 if fmax is None else fmax
    fft_freqs = np.linspace(0.0, sr / 2.0, 1 + n_fft // 2)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, None]
    out = weights.astype(np.float32)
    out.setflags(write=False)  # shared by the cache
    return out


@lru_cache(maxsize=8)
def chroma_filterbank(sr: int, n_fft: int) -> np.ndarray:
    from librosa.filters import chroma

    return chroma(sr=sr, n_fft=n_fft, tuning=0.0).astype(np.float32)


@lru_cache(maxsize=8)
def dct_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Orthonormal DCT-II as a matrix: MFCCs become one small matmul."""
    n = np.arange(n_in)
    k = np.arange(n_out)[:, None]
    m = np.cos(np.pi / n_in * (n + 0.5) * k) * np.sqrt(2.0 / n_in)
    m[0] /= np.sqrt(2.0)
    return m.astype(np.float32)


def frames(signal: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Centred, zero-padded frames (n_frames, n_fft) as a strided view."""
    padded = np.pad(signal.astype(np.float32, copy=False), n_fft // 2)
    n = 1 + (len(padded) - n_fft) // hop
    return np.lib.stride_tricks.as_strided(
        padded, shape=(n, n_fft), strides=(padded.strides[0] * hop, padded.strides[0]), writeable=False
    )


def power_spectrogram(framed: np.ndarray, n_fft: int) -> np.ndarray:
    """|STFT|^2 as (n_frames, n_fft // 2 + 1) float32."""
    import scipy.fft

    spec = scipy.fft.rfft(framed * _window(n_fft), n=n_fft, axis=1, workers=1)
    return (spec.real**2 + spec.imag**2).astype(np.float32, copy=False)


def power_to_db(power: np.ndarray, top_db: float = 80.0) -> np.ndarray:
    db = 10.0 * np.log10(np.maximum(power, 1e-10))
    return np.maximum(db, db.max() - top_db) if top_db else db


def loud_frames(signal: np.ndarray, *, frame: int = 400, hop: int = 160, top_db: float = 40.0) -> np.ndarray:
    """Indices of the frames within top_db of the loudest one (empty for very short input)."""
    if len(signal) <= frame:
        return np.zeros(0, dtype=np.int64)
    f = frames(signal, frame, hop)
    rms = np.sqrt(np.mean(f * f, axis=1) + 1e-12)
    return np.flatnonzero(rms >= rms.max() * 10 ** (-top_db / 20))


def speech_onset(signal: np.ndarray, *, frame: int = 400, hop: int = 160, top_db: float = 40.0) -> int:
    """Sample index where speech starts: the first frame within top_db of the loudest one.

    Acted corpora have up to a second of room noise before the sentence; a fixed
    window that starts at t=0 would spend much of its length on it.
    """
    loud = loud_frames(signal, frame=frame, hop=hop, top_db=top_db)
    return int(max(0, loud[0] * hop - frame // 2)) if loud.size else 0


def fixed_window(signal: np.ndarray, n_samples: int, *, from_onset: bool = True) -> np.ndarray:
    start = speech_onset(signal) if from_onset else 0
    out = np.zeros(n_samples, dtype=np.float32)
    piece = signal[start : start + n_samples]
    out[: len(piece)] = piece
    return out


@dataclasses.dataclass(frozen=True)
class SpectralStatsConfig(FeatureConfig):
    sample_rate: int = SAMPLE_RATE
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 128
    n_mfcc: int = 20


class SpectralStats(FeatureExtractor):
    """The seed feature vector: ZCR, RMS, chroma, MFCC and mel statistics (mean and std)."""

    name = "spectral_stats"
    kind = FeatureKind.VECTOR
    config_class = SpectralStatsConfig
    config: SpectralStatsConfig

    def extract(self, signal: np.ndarray) -> np.ndarray:
        c = self.config
        framed = frames(signal, c.n_fft, c.hop_length)
        power = power_spectrogram(framed, c.n_fft)
        mel = power @ mel_filterbank(c.sample_rate, c.n_fft, c.n_mels).T
        mel_db = power_to_db(mel)
        mfcc = mel_db @ dct_matrix(c.n_mels, c.n_mfcc).T
        chroma = power @ chroma_filterbank(c.sample_rate, c.n_fft).T
        chroma /= np.maximum(chroma.max(axis=1, keepdims=True), 1e-10)
        signs = np.signbit(framed)
        zcr = np.mean(signs[:, 1:] != signs[:, :-1], axis=1)
        rms = np.sqrt(np.mean(framed * framed, axis=1))
        parts = [zcr[:, None], rms[:, None], chroma, mfcc, mel_db]
        return np.concatenate([np.concatenate([p.mean(axis=0), p.std(axis=0)]) for p in parts]).astype(np.float32)

    @staticmethod
    def feature_names(config: SpectralStatsConfig | None = None) -> list[str]:
        c = config or SpectralStatsConfig()
        groups = [("zcr", 1), ("rms", 1), ("chroma", 12), ("mfcc", c.n_mfcc), ("mel", c.n_mels)]
        names = []
        for g, n in groups:
            names += [f"{g}{i}_mean" if n > 1 else f"{g}_mean" for i in range(n)]
            names += [f"{g}{i}_std" if n > 1 else f"{g}_std" for i in range(n)]
        return names


def window_logmel(signal: np.ndarray, c) -> np.ndarray:
    """(frames, n_mels) dB mel spectrogram of the fixed window both matrix features read."""
    window = fixed_window(signal, int(round(c.window_seconds * c.sample_rate)), from_onset=c.from_onset)
    power = power_spectrogram(frames(window, c.n_fft, c.hop_length), c.n_fft)
    return power_to_db(power @ mel_filterbank(c.sample_rate, c.n_fft, c.n_mels).T)


@dataclasses.dataclass(frozen=True)
class MfccMatrixConfig(FeatureConfig):
    sample_rate: int = SAMPLE_RATE
    n_mfcc: int = 25
    window_seconds: float = 2.5
    n_fft: int = 512
    hop_length: int = 186
    n_mels: int = 64
    from_onset: bool = True


class MfccMatrix(FeatureExtractor):
    """The 2-D MFCC "image" (25 x 216) the seed CNN reads; normalised later, inside the model."""

    name = "mfcc_matrix"
    kind = FeatureKind.MATRIX
    config_class = MfccMatrixConfig
    config: MfccMatrixConfig

    def extract(self, signal: np.ndarray) -> np.ndarray:
        c = self.config
        mel_db = window_logmel(signal, c)
        return np.ascontiguousarray((mel_db @ dct_matrix(c.n_mels, c.n_mfcc).T).T, dtype=np.float32)


@dataclasses.dataclass(frozen=True)
class LogMelConfig(FeatureConfig):
    sample_rate: int = SAMPLE_RATE
    n_mels: int = 64
    window_seconds: float = 2.5
    n_fft: int = 512
    hop_length: int = 186
    from_onset: bool = True


class LogMel(FeatureExtractor):
    """Log-mel spectrogram (n_mels x frames) over the same fixed window as mfcc_matrix."""

    name = "logmel"
    kind = FeatureKind.MATRIX
    config_class = LogMelConfig
    config: LogMelConfig

    def extract(self, signal: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(window_logmel(signal, self.config).T, dtype=np.float32)
