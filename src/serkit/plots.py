"""Pictures a user expects: confusion matrix, class distribution, waveform and spectrograms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

# A tEXt entry in every PNG serkit draws, so a later run recognises the image as its own and may replace it.
PNG_MARK = ("Source", "serkit")


def is_serkit_png(head: bytes) -> bool:
    """Whether the first bytes of a file are a PNG serkit drew (they hold its tEXt mark)."""
    key, value = PNG_MARK
    return head.startswith(b"\x89PNG\r\n\x1a\n") and b"tEXt" + key.encode() + b"\0" + value.encode() in head


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    import io

    from serkit.io import atomic_write_bytes

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight", metadata={PNG_MARK[0]: PNG_MARK[1]})
    atomic_write_bytes(Path(path), buf.getvalue())  # a device or FIFO is written through (io.writes_through)


def plot_confusion(cm: np.ndarray, labels: Sequence[str], path: Path, *, title: str = "") -> None:
    """Row-normalised (recall) colours with raw counts, the way SER papers show it."""
    plt = _plt()
    rows = cm.sum(axis=1, keepdims=True)
    norm = np.divide(cm, rows, out=np.zeros_like(cm, dtype=float), where=rows > 0)
    n = len(labels)
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * n, 0.8 + 0.7 * n))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), labels, rotation=45, ha="right")
    ax.set_yticks(range(n), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(n):
        for j in range(n):
            ax.text(
                j,
                i,
                f"{cm[i, j]}\n{norm[i, j]:.0%}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if norm[i, j] > 0.6 else "black",
            )
    if title:
        ax.set_title(title, fontsize=9)
    _save(fig, path)
    plt.close(fig)


def plot_distribution(counts: Mapping[str, int], path: Path, *, title: str = "") -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(4, 0.8 * len(counts)), 3.2))
    ax.bar(list(counts), list(counts.values()), color="#4C72B0")
    for i, v in enumerate(counts.values()):
        ax.text(i, v, str(v), ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("files")
    ax.tick_params(axis="x", rotation=30)
    ax.set_title(title or "class distribution", fontsize=10)
    _save(fig, path)
    plt.close(fig)


def plot_audio(signal: np.ndarray, sample_rate: int, path: Path, *, title: str = "") -> None:
    """Waveform, linear spectrogram and mel spectrogram of one file, stacked."""
    from serkit.features.spectral import frames, mel_filterbank, power_spectrogram, power_to_db

    plt = _plt()
    n_fft, hop = 512, 128
    power = power_spectrogram(frames(signal, n_fft, hop), n_fft)
    spec_db = power_to_db(power).T
    mel_db = power_to_db(power @ mel_filterbank(sample_rate, n_fft, 64).T).T
    t = np.arange(len(signal)) / sample_rate
    dur = len(signal) / sample_rate
    fig, axes = plt.subplots(3, 1, figsize=(8, 7), sharex=True)
    axes[0].plot(t, signal, lw=0.5, color="#333")
    axes[0].set_ylabel("amplitude")
    axes[0].set_title(title or "waveform", fontsize=10)
    axes[1].imshow(spec_db, origin="lower", aspect="auto", extent=[0, dur, 0, sample_rate / 2000], cmap="magma")
    axes[1].set_ylabel("kHz")
    axes[1].set_title("spectrogram (dB)", fontsize=9)
    axes[2].imshow(mel_db, origin="lower", aspect="auto", extent=[0, dur, 0, 64], cmap="magma")
    axes[2].set_ylabel("mel band")
    axes[2].set_xlabel("time (s)")
    axes[2].set_title("mel spectrogram (dB)", fontsize=9)
    _save(fig, path)
    plt.close(fig)
