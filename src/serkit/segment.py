"""Energy-based speech segmentation that streams: a one-hour file never sits in memory.

Frames of 20 ms are marked speech when they rise 12 dB above the noise floor (the 10th
percentile of their 30 s analysis window, wherever the caller's blocks end) and above
-55 dBFS; short gaps are bridged, short blips dropped, and long stretches cut so every
segment suits a clip-level emotion model.

``Segmenter`` is the one implementation: audio is pushed into it as it arrives (a live
stream) and segments come out once their analysis window is complete; ``segments`` drives
it from an iterable of blocks (a file).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

FRAME = 320  # 20 ms at 16 kHz

SpeechSegment = tuple[float, float, np.ndarray]  # (start s, end s, samples)


@dataclass(frozen=True)
class SegmentConfig:
    sample_rate: int = 16000
    min_speech: float = 0.5  # seconds; shorter bursts are noise
    max_segment: float = 8.0  # longer speech is cut into pieces of at most this length
    max_gap: float = 0.4  # silences shorter than this stay inside a segment
    floor_db: float = -55.0
    above_noise_db: float = 12.0
    analysis_seconds: float = 30.0  # the noise floor is estimated per window of this length, wherever blocks end


def frame_levels(block: np.ndarray) -> np.ndarray:
    """Energy in dBFS of each whole 20 ms frame of ``block`` (a trailing part frame is ignored)."""
    n = len(block) // FRAME
    if n == 0:
        return np.zeros(0, dtype=np.float64)
    frames = np.asarray(block[: n * FRAME], dtype=np.float32).reshape(n, FRAME)
    return 10 * np.log10(np.mean(frames * frames, axis=1) + 1e-12)


def speech_threshold(levels: np.ndarray, cfg: SegmentConfig = SegmentConfig()) -> float:
    """The level a frame must exceed to be speech, given the frame levels its noise floor is estimated from."""
    noise = float(np.percentile(levels, 10)) if len(levels) else -np.inf
    return max(cfg.floor_db, noise + cfg.above_noise_db)


class Segmenter:
    """Push audio in with ``push`` (any block sizes), collect segments; ``finish`` at the end of the stream.

    Boundaries do not depend on how the stream is cut: audio is re-cut into analysis windows of
    exactly ``analysis_seconds`` (whole frames), so a segment comes out once the window that
    closes it is complete, or at ``finish``.
    """

    def __init__(self, cfg: SegmentConfig = SegmentConfig()) -> None:
        self.cfg = cfg
        sr = cfg.sample_rate
        self._max_len = int(cfg.max_segment * sr)
        self._gap_frames = int(cfg.max_gap * sr / FRAME)
        self._window = max(1, int(cfg.analysis_seconds * sr) // FRAME) * FRAME  # whole frames: no carry between windows
        self._pending: list[np.ndarray] = []  # audio of the analysis window being filled
        self._have = 0
        self._pos = 0  # sample index where the window being filled starts
        self._current: list[np.ndarray] = []
        self._cur_start = 0
        self._cur_len = 0
        self._silent_run = 0
        self._finished = False

    def push(self, block: np.ndarray) -> list[SpeechSegment]:
        """Add mono samples; returns the segments this completes (often none)."""
        if self._finished:
            raise RuntimeError("Segmenter.push after finish")
        out: list[SpeechSegment] = []
        block = np.asarray(block, dtype=np.float32)
        while len(block):
            take = min(self._window - self._have, len(block))
            self._pending.append(block[:take])
            self._have += take
            block = block[take:]
            if self._have == self._window:
                out += self._analyse(self._take_window())
        return out

    def finish(self) -> list[SpeechSegment]:
        """The end of the stream: analyse the last, partial window and close the open segment."""
        if self._finished:
            return []
        self._finished = True
        out: list[SpeechSegment] = []
        carry = np.zeros(0, dtype=np.float32)
        if self._have:
            data = self._take_window()
            n = len(data) // FRAME
            out += self._analyse(data[: n * FRAME])
            carry = data[n * FRAME :]
        if len(carry) and self._current:
            self._current.append(carry)
            self._cur_len += len(carry)
        seg = self._close()
        if seg:
            out.append(seg)
        return out

    def _take_window(self) -> np.ndarray:
        data = self._pending[0] if len(self._pending) == 1 else np.concatenate(self._pending)
        self._pending, self._have = [], 0
        return data

    def _analyse(self, data: np.ndarray) -> list[SpeechSegment]:
        """One analysis window of whole frames: its own noise floor, then frame by frame."""
        out: list[SpeechSegment] = []
        levels = frame_levels(data)
        flags = levels > speech_threshold(levels, self.cfg)
        for i in range(len(flags)):
            frame = data[i * FRAME : (i + 1) * FRAME]
            if flags[i]:
                if not self._current:
                    self._cur_start = self._pos + i * FRAME
                self._current.append(frame)
                self._cur_len += FRAME
                self._silent_run = 0
            elif self._current:
                self._current.append(frame)
                self._cur_len += FRAME
                self._silent_run += 1
                if self._silent_run > self._gap_frames:
                    seg = self._close()
                    if seg:
                        out.append(seg)
            if self._current and self._cur_len >= self._max_len:
                seg = self._close()
                if seg:
                    out.append(seg)
        self._pos += len(flags) * FRAME
        return out

    def _close(self) -> SpeechSegment | None:
        if not self._current:
            return None
        sr = self.cfg.sample_rate
        seg = np.concatenate(self._current)
        keep = len(seg) - self._silent_run * FRAME  # drop the trailing silence
        seg = seg[: max(keep, 0)]
        self._current, self._cur_len, self._silent_run = [], 0, 0
        if len(seg) >= self.cfg.min_speech * sr:
            return self._cur_start / sr, (self._cur_start + len(seg)) / sr, seg
        return None


def segments(blocks: Iterable[np.ndarray], cfg: SegmentConfig = SegmentConfig()) -> Iterator[SpeechSegment]:
    """Yield (start s, end s, samples) for each speech segment of a stream of mono blocks."""
    segmenter = Segmenter(cfg)
    for block in blocks:
        yield from segmenter.push(block)
    yield from segmenter.finish()
