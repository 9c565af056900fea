"""Whisper's log-mel front end in numpy: kept apart from the torch encoder so that the
ONNX prediction path computes Whisper features without importing torch."""

from __future__ import annotations

import functools

import numpy as np

SAMPLE_RATE = 16_000
N_FFT = 400
HOP_LENGTH = 160
N_MELS = 80


@functools.lru_cache(maxsize=4)
def _mel_filters(n_mels: int = N_MELS) -> np.ndarray:
    """Slaney mel filterbank identical to the one OpenAI ships (mel_filters.npz)."""
    from serkit.features.spectral import mel_filterbank

    fb = mel_filterbank(SAMPLE_RATE, N_FFT, n_mels).astype(np.float64)
    fb.setflags(write=False)  # shared by the cache
    return fb


@functools.lru_cache(maxsize=1)
def _hann_window() -> np.ndarray:
    # Periodic Hann, as torch.hann_window(400) in whisper.audio.
    w = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(N_FFT) / N_FFT)
    w.setflags(write=False)
    return w


def whisper_log_mel(signal: np.ndarray) -> np.ndarray:
    """Whisper's log-mel front end for a 16 kHz mono signal: float32 (80, T), T even.

    Same recipe as ``whisper.audio.log_mel_spectrogram`` with no 30 s padding:
    centred reflect-padded STFT (n_fft 400, hop 160, periodic Hann), last frame
    dropped, power spectrum, Slaney mel filterbank, log10 floored at 1e-10,
    clamped to (max - 8), then (x + 4) / 4.  T = len(signal) // 160 rounded down
    to even, because the encoder's stride-2 conv halves it.  Note the max-8
    clamp uses the max over the whole signal, so chunking before vs after this
    call can differ slightly on chunks with no loud frames.
    """
    x = np.asarray(signal)
    if x.ndim != 1:
        raise ValueError(f"expected a 1-D mono signal, got shape {x.shape}")
    x = x.astype(np.float64, copy=False)
    n_frames = len(x) // HOP_LENGTH  # 1 + len//hop centred frames, minus the dropped last one
    n_frames -= n_frames % 2
    if n_frames < 2:
        raise ValueError(
            f"signal too short for Whisper features: {len(x)} samples, "
            f"need at least {2 * HOP_LENGTH} ({2 * HOP_LENGTH / SAMPLE_RATE * 1000:.0f} ms)"
        )
    if not np.all(np.isfinite(x)):
        raise ValueError("signal contains NaN or infinite samples")

    padded = np.pad(x, N_FFT // 2, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP_LENGTH][:n_frames]
    window = _hann_window()
    filters = _mel_filters(N_MELS)
    mel = np.empty((N_MELS, n_frames), dtype=np.float64)
    block = 4096  # bound the temporary (block, 400) complex spectra for long inputs
    for start in range(0, n_frames, block):
        spec = np.fft.rfft(frames[start : start + block] * window, axis=-1)
        power = spec.real**2 + spec.imag**2
        mel[:, start : start + block] = filters @ power.T
    log_spec = np.log10(np.maximum(mel, 1e-10))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return ((log_spec + 4.0) / 4.0).astype(np.float32)
