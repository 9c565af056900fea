"""Energy-based speech segmentation that streams: a one-hour file never sits in memory.

Frames of 20 ms are marked speech when they rise 12 dB above the noise floor (the 10th
percentile of their 30 s analysis window, wherever the caller's blocks end) and above
-55 dBFS; short gaps are bridged, short blips dropped, and long stretches cut so every
segment suits a clip-level emotion model.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

FRAME = 320  # 20 ms at 16 kHz


@dataclass(frozen=True)
class SegmentConfig:
    sample_rate: int = 16000
    min_speech: float = 0.5  # seconds; shorter bursts are noise
    max_segment: float = 8.0  # longer speech is cut into pieces of at most this length
    max_gap: float = 0.4  # silences shorter than this stay inside a segment
    floor_db: float = -55.0
    above_noise_db: float = 12.0
    analysis_seconds: float = 30.0  # the noise floor is estimated per window of this length, wherever blocks end


def _windows(blocks: Iterable[np.ndarray], size: int) -> Iterator[np.ndarray]:
    """Re-cut a stream into windows of exactly `size` samples (the last may be shorter), so the
    noise floor, and with it every boundary, does not depend on how the caller cut the stream."""
    buf: list[np.ndarray] = []
    have = 0
    for block in blocks:
        block = np.asarray(block, dtype=np.float32)
        while len(block):
            take = min(size - have, len(block))
            buf.append(block[:take])
            have += take
            block = block[take:]
            if have == size:
                yield np.concatenate(buf)
                buf, have = [], 0
    if have:
        yield np.concatenate(buf)


def _speech_flags(block: np.ndarray, cfg: SegmentConfig) -> np.ndarray:
    n = len(block) // FRAME
    if n == 0:
        return np.zeros(0, dtype=bool)
    frames = block[: n * FRAME].reshape(n, FRAME)
    db = 10 * np.log10(np.mean(frames * frames, axis=1) + 1e-12)
    noise = np.percentile(db, 10)
    return db > max(cfg.floor_db, noise + cfg.above_noise_db)


def segments(blocks: Iterable[np.ndarray], cfg: SegmentConfig = SegmentConfig()) -> Iterator[tuple[float, float, np.ndarray]]:
    """Yield (start s, end s, samples) for each speech segment of a stream of mono blocks."""
    sr = cfg.sample_rate
    max_len = int(cfg.max_segment * sr)
    gap_frames = int(cfg.max_gap * sr / FRAME)
    carry = np.zeros(0, dtype=np.float32)
    pos = 0  # sample index of carry[0]
    current: list[np.ndarray] = []
    cur_start, cur_len, silent_run = 0, 0, 0

    def close():
        nonlocal current, cur_len, silent_run
        if not current:
            return None
        seg = np.concatenate(current)
        keep = len(seg) - silent_run * FRAME  # drop the trailing silence
        seg = seg[: max(keep, 0)]
        current, cur_len, silent_run = [], 0, 0
        if len(seg) >= cfg.min_speech * sr:
            return cur_start / sr, (cur_start + len(seg)) / sr, seg
        return None

    window = max(1, int(cfg.analysis_seconds * sr) // FRAME) * FRAME  # whole frames: no carry between windows
    for block in _windows(blocks, window):
        data = np.concatenate([carry, block])
        n = len(data) // FRAME
        flags = _speech_flags(data[: n * FRAME], cfg)
        for i in range(n):
            frame = data[i * FRAME : (i + 1) * FRAME]
            if flags[i]:
                if not current:
                    cur_start = pos + i * FRAME
                current.append(frame)
                cur_len += FRAME
                silent_run = 0
            elif current:
                current.append(frame)
                cur_len += FRAME
                silent_run += 1
                if silent_run > gap_frames:
                    out = close()
                    if out:
                        yield out
            if current and cur_len >= max_len:
                out = close()
                if out:
                    yield out
        carry = data[n * FRAME :]
        pos += n * FRAME
    if len(carry) and current:
        current.append(carry)
        cur_len += len(carry)
    out = close()
    if out:
        yield out
