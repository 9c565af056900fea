"""The one audio loader: decode by content, downmix to mono, resample to 16 kHz, validate.

Every path that turns bytes into a signal (corpora, features, prediction, the web
server) goes through here, so a file is either usable everywhere or rejected with
the same one-line reason everywhere.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from serkit.errors import AudioError

SAMPLE_RATE = 16_000
MIN_DURATION = 0.25  # seconds
SILENCE_DBFS = -60.0
AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff", ".aifc", ".mp3", ".wave"})

Source = str | Path | bytes | BinaryIO


@dataclass(frozen=True)
class AudioInfo:
    sample_rate: int
    frames: int
    channels: int

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def is_audio_name(path: str | Path) -> bool:
    """Whether a file name looks like audio (used to tell skipped audio from unrelated files)."""
    return Path(path).suffix.lower() in AUDIO_EXTENSIONS


def _name(source: Source, name: str | None) -> str:
    if name is not None:
        return name
    if isinstance(source, (str, Path)):
        return str(source)
    return getattr(source, "name", "<upload>")


def _open(source: Source, label: str):  # -> soundfile.SoundFile
    import soundfile as sf

    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists():
            raise AudioError(label, "file not found")
        if path.is_dir():
            raise AudioError(label, "is a folder, not an audio file")
        if path.stat().st_size == 0:
            raise AudioError(label, "empty file (0 bytes)")
        target: object = str(path)
    elif isinstance(source, (bytes, bytearray)):
        if len(source) == 0:
            raise AudioError(label, "empty file (0 bytes)")
        target = io.BytesIO(source)
    else:
        target = source
    try:
        # libsndfile sniffs the container from the header, not the extension: an AIFF
        # named .wav (a known TESS quirk) decodes as AIFF.
        return sf.SoundFile(target)
    except Exception as exc:  # soundfile raises LibsndfileError / RuntimeError / TypeError
        detail = str(exc).split("\n")[0]
        if "unknown format" in detail.lower() or "format not recognised" in detail.lower() or "not recognised" in detail.lower():
            detail = "not a recognised audio format (wav, flac, ogg, aiff, mp3)"
        raise AudioError(label, f"unreadable audio: {detail}") from None


def info(source: Source, *, name: str | None = None) -> AudioInfo:
    """Header facts without decoding the samples."""
    label = _name(source, name)
    with _open(source, label) as f:
        return AudioInfo(int(f.samplerate), int(f.frames), int(f.channels))


def to_mono(data: np.ndarray) -> np.ndarray:
    """Average channels: keeps level comparable between mono and stereo recordings."""
    if data.ndim == 2:
        data = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    return np.ascontiguousarray(data, dtype=np.float32)


def resample(signal: np.ndarray, orig_sr: int, target_sr: int = SAMPLE_RATE) -> np.ndarray:
    """High-quality resampling (libsoxr), any rate to any rate."""
    if orig_sr == target_sr:
        return np.ascontiguousarray(signal, dtype=np.float32)
    import soxr

    return soxr.resample(signal, orig_sr, target_sr, quality="HQ").astype(np.float32, copy=False)


def validate(
    signal: np.ndarray,
    sample_rate: int,
    *,
    name: str = "<audio>",
    min_duration: float = MIN_DURATION,
    silence_dbfs: float = SILENCE_DBFS,
) -> np.ndarray:
    """Reject what no emotion model can use: empty, non-finite, too short or silent audio."""
    if signal.size == 0:
        raise AudioError(name, "contains no samples")
    if not np.all(np.isfinite(signal)):
        raise AudioError(name, "contains NaN or infinite samples")
    check_length_and_level(signal.size, float(np.max(np.abs(signal))), sample_rate, name=name,
                           min_duration=min_duration, silence_dbfs=silence_dbfs)
    return signal


def check_length_and_level(
    n_samples: int,
    peak: float,
    sample_rate: int,
    *,
    name: str = "<audio>",
    min_duration: float = MIN_DURATION,
    silence_dbfs: float = SILENCE_DBFS,
) -> None:
    """The too-short and silence checks from summary numbers, so a streamed file gets them too."""
    duration = n_samples / sample_rate
    if duration < min_duration:
        raise AudioError(name, f"too short: {duration:.3f} s (minimum {min_duration} s)")
    peak_db = 20.0 * np.log10(peak) if peak > 0 else -np.inf
    if peak_db < silence_dbfs:
        shown = "-inf" if not np.isfinite(peak_db) else f"{peak_db:.1f}"
        raise AudioError(name, f"silent: peak {shown} dBFS (below {silence_dbfs:.0f} dBFS)")


def load(
    source: Source,
    *,
    sample_rate: int = SAMPLE_RATE,
    name: str | None = None,
    min_duration: float = MIN_DURATION,
    max_duration: float | None = None,
    check: bool = True,
) -> np.ndarray:
    """Decode any supported file (path, bytes or file object) to mono float32 at `sample_rate`.

    max_duration is checked from the header, before decoding: a few kB of FLAC can expand to
    gigabytes of samples, so untrusted uploads must be bounded by length, not only by bytes.
    """
    label = _name(source, name)
    with _open(source, label) as f:
        sr = int(f.samplerate)
        if max_duration is not None and sr > 0 and f.frames / sr > max_duration:
            raise AudioError(label, f"too long: {f.frames / sr:.1f} s (maximum {max_duration:g} s)")
        try:
            data = f.read(dtype="float32", always_2d=True)
        except Exception as exc:
            raise AudioError(label, f"unreadable audio: {str(exc).splitlines()[0]}") from None
    if data.shape[0] == 0:
        raise AudioError(label, "contains no samples")
    signal = resample(to_mono(data), sr, sample_rate)
    if check:
        validate(signal, sample_rate, name=label, min_duration=min_duration)
    return signal


def iter_blocks(
    source: str | Path,
    *,
    block_seconds: float = 30.0,
    sample_rate: int = SAMPLE_RATE,
) -> Iterator[np.ndarray]:
    """Stream a long recording as mono 16 kHz blocks so memory stays bounded by the block size."""
    import soxr

    label = str(source)
    with _open(source, label) as f:
        sr = int(f.samplerate)
        stream = soxr.ResampleStream(sr, sample_rate, 1, dtype="float32", quality="HQ") if sr != sample_rate else None
        block = max(1, int(block_seconds * sr))
        while True:
            try:
                data = f.read(block, dtype="float32", always_2d=True)
            except Exception as exc:  # a truncated or corrupt stream: one line, not a traceback
                raise AudioError(label, f"unreadable audio: {str(exc).splitlines()[0]}") from None
            if not np.all(np.isfinite(data)):
                raise AudioError(label, "contains NaN or infinite samples")
            last = data.shape[0] < block
            mono = to_mono(data)
            out = stream.resample_chunk(mono, last=last) if stream is not None else mono
            if out.size:
                yield out
            if last:
                break
