"""Live prediction: audio pushed in as it arrives, an update every hop, the long-file timeline at the end.

``StreamingPredictor(predictor).feed(samples)`` returns one ``Update`` per completed hop (default
0.5 s): whether that hop held speech and, when it did, the label and probabilities of the last
``window`` seconds (default 2 s, pauses included, as in the clips the model learnt from) once
they hold at least 1 s of speech, and a label smoothed over the last ``smooth`` labelled hops
(default 2), so a display does not flicker. Speech is decided per hop by the segmenter's own rule
(``segment.speech_threshold``) against the noise floor of the last 30 s.

``close()`` returns the summary: the same speech segments, per-segment predictions and
duration-weighted overall result as ``predict_file(..., segment=True)`` gives for the same audio,
because both run ``segment.Segmenter`` and ``inference.Timeline``.

The web server (``/api/stream``) and ``serkit listen`` both drive this class: one streaming
implementation. Its cost is bounded: the live window, the noise-floor history and the segmenter's
analysis window are fixed sizes, and finished segments are predicted a few at a time.
"""

from __future__ import annotations

import collections
import dataclasses
import struct
from collections.abc import Callable, Sequence
from enum import Enum
from typing import Any

import numpy as np

from serkit import audio
from serkit.errors import AudioError, AudioProblem, ConfigError, SerkitError
from serkit.inference import Prediction, Predictor, Timeline
from serkit.segment import FRAME, SegmentConfig, Segmenter, SpeechSegment, frame_levels, speech_threshold
from serkit.stream_options import HOP_SECONDS, SMOOTH_HOPS, STREAM_BOUNDS, WINDOW_SECONDS
from serkit.validation import Bound

# A label is given once the window holds this much speech: the first half second of an utterance
# agrees with the whole clip's label far less often, and would anchor the smoothing on a wrong start
# (72 RAVDESS clips, default model: 65% of labelled hops agree with `serkit predict` without this
# rule, 78% with it; 75% after smoothing over 2 hops, with half the label changes).
MIN_SPEECH_SECONDS = 1.0
# A hop is speech when at least this share of its 20 ms frames rise above the speech threshold
# (the segmenter's rule: 12 dB over the noise floor of the last 30 s, and above -55 dBFS).
SPEECH_SHARE = 0.25
NOISE_HISTORY_SECONDS = 30.0
# Finished segments wait to be predicted between hops; past this much audio they are predicted at once.
PENDING_LIMIT_SECONDS = 30.0
PCM_BYTES = 2  # 16-bit samples

# Every numeric option of a stream and its valid range (`serkit listen` checks them before it starts).
BOUNDS: dict[str, Bound] = {
    **STREAM_BOUNDS,
    "sample_rate": Bound(int, audio.MIN_SAMPLE_RATE, audio.MAX_SAMPLE_RATE),
}


def check_options(
    *,
    hop: float = HOP_SECONDS,
    window: float = WINDOW_SECONDS,
    smooth: int = SMOOTH_HOPS,
    sample_rate: int = audio.SAMPLE_RATE,
) -> None:
    """ConfigError naming the parameter (as Python spells it; `serkit listen` respells it as its flag), the value
    and the valid range."""
    for name, value in (("hop", hop), ("window", window), ("smooth", smooth), ("sample_rate", sample_rate)):
        BOUNDS[name].check(name, value)
    if window < hop:
        raise ConfigError(f"window ({window:g} s) must be at least hop ({hop:g} s)", params=("window", "hop"))


class Message(str, Enum):
    """The ``type`` of every JSON message of a live stream (WebSocket and ``serkit listen --format jsonl``)."""

    READY = "ready"  # server -> client: the stream's parameters
    START = "start"  # client -> server, optional first message: the sample rate of the PCM that follows
    UPDATE = "update"  # one per hop
    STOP = "stop"  # client -> server: end of audio, send the summary
    SUMMARY = "summary"  # the last message: the timeline of the whole stream
    ERROR = "error"  # why the stream is being closed


def _rounded(probabilities: dict[str, float] | None) -> dict[str, float] | None:
    return None if probabilities is None else {k: round(float(v), 6) for k, v in probabilities.items()}


@dataclasses.dataclass(frozen=True)
class Update:
    """What one hop of a live stream says. ``label`` is None in silence (``speech`` False).

    Attributes:
        start: The hop's start, in seconds from the beginning of the stream.
        end: The hop's end, in seconds.
        speech: Whether the hop holds speech.
        label: The label predicted from the last `window` seconds of speech; None in silence.
        confidence: Its probability; None in silence.
        probabilities: Every class's probability, in label order; None in silence.
        smoothed_label: The label of the probabilities averaged over the last `smooth` labelled hops.
        smoothed_confidence: Its averaged probability.
        smoothed_probabilities: The averaged probabilities.
        speech_seconds: How much speech the label was predicted from (up to the window).
    """

    start: float
    end: float
    speech: bool
    label: str | None = None
    confidence: float | None = None
    probabilities: dict[str, float] | None = None
    smoothed_label: str | None = None
    smoothed_confidence: float | None = None
    smoothed_probabilities: dict[str, float] | None = None
    speech_seconds: float = 0.0  # how much speech the label was predicted from (up to the window)

    def to_dict(self) -> dict[str, Any]:
        """The update as the server's ``update`` message (rounded, JSON-ready).

        Returns:
            ``{"type": "update", ...}`` with every field.
        """
        return {
            "type": Message.UPDATE.value,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "speech": self.speech,
            "label": self.label,
            "confidence": None if self.confidence is None else round(self.confidence, 6),
            "probabilities": _rounded(self.probabilities),
            "smoothed_label": self.smoothed_label,
            "smoothed_confidence": None if self.smoothed_confidence is None else round(self.smoothed_confidence, 6),
            "smoothed_probabilities": _rounded(self.smoothed_probabilities),
            "speech_seconds": round(self.speech_seconds, 3),
        }


def summary_message(prediction: Prediction) -> dict[str, Any]:
    """The final message of a stream: ``Prediction.to_dict()`` (as ``serkit predict --format json``), typed."""
    body = prediction.to_dict()
    body.setdefault("segments", [])
    if prediction.duration is not None:
        body["duration"] = round(prediction.duration, 3)
    return {"type": Message.SUMMARY.value, **body}


class StreamingPredictor:
    """Feed audio as it arrives; get an ``Update`` per hop; ``close()`` for the summary timeline.

    ``sample_rate`` is the rate of what ``feed`` receives (resampled to 16 kHz here, streaming).
    Not thread-safe: one stream is fed by one caller at a time.

    Args:
        predictor: The model; its normalisation must work one recording at a time (not `corpus`).
        hop: Seconds between updates (rounded to whole 20 ms frames).
        window: Seconds of audio each update's label is predicted from; at least `hop`.
        smooth: The smoothed label averages the probabilities of this many labelled hops.
        sample_rate: The rate of what `feed` receives, in Hz.
        name: What the final Prediction and error messages call the stream.

    Raises:
        ConfigError: an option is out of range, or `window` is shorter than `hop`.
        SerkitError: the model's normalisation cannot predict a live stream.
    """

    def __init__(
        self,
        predictor: Predictor,
        *,
        hop: float = HOP_SECONDS,
        window: float = WINDOW_SECONDS,
        smooth: int = SMOOTH_HOPS,
        sample_rate: int = audio.SAMPLE_RATE,
        name: str = "<stream>",
    ) -> None:
        check_options(hop=hop, window=window, smooth=smooth, sample_rate=sample_rate)
        predictor.normalizer.check_stream(predictor.bundle.path.name)
        self.predictor = predictor
        self.name = name
        self.sample_rate = sample_rate
        self.labels = list(predictor.labels)
        sr = audio.SAMPLE_RATE
        self.hop_samples = max(1, round(hop * sr / FRAME)) * FRAME  # whole 20 ms frames
        self.window_samples = int(round(window * sr))
        self.smooth = smooth
        self._cfg = SegmentConfig()
        self._segmenter = Segmenter(self._cfg)
        self._timeline = Timeline(predictor, name)
        self._pending: collections.deque[SpeechSegment] = collections.deque()
        self._pending_samples = 0
        self._levels: collections.deque[float] = collections.deque(maxlen=int(NOISE_HISTORY_SECONDS * sr) // FRAME)
        self._hop_buf = np.zeros(0, dtype=np.float32)
        self._hops = 0
        self._recent_audio: collections.deque[tuple[np.ndarray, bool]] = collections.deque()  # last `window` s
        self._audio_len = 0
        self.min_speech = min(MIN_SPEECH_SECONDS, window)
        self._recent: collections.deque[np.ndarray] = collections.deque(maxlen=smooth)
        self._closed = False
        self._resampler = None
        if sample_rate != sr:
            import soxr

            self._resampler = soxr.ResampleStream(sample_rate, sr, 1, dtype="float32", quality="HQ")

    @property
    def hop(self) -> float:
        """Seconds between updates, as rounded to whole frames."""
        return self.hop_samples / audio.SAMPLE_RATE

    @property
    def window(self) -> float:
        """Seconds of audio each update's label is predicted from."""
        return self.window_samples / audio.SAMPLE_RATE

    def describe(self) -> dict[str, Any]:
        """The stream's parameters (the server's ``ready`` message).

        Returns:
            The hop, window, smoothing, sample rate and labels, as JSON-ready values.
        """
        return {
            "labels": self.labels,
            "hop": self.hop,
            "window": self.window,
            "smooth": self.smooth,
            "sample_rate": self.sample_rate,
        }

    # -- input ------------------------------------------------------------------------------------
    def feed(self, samples: np.ndarray | Sequence[float]) -> list[Update]:
        """Mono samples (float, -1..1) at ``sample_rate``; returns the updates of the hops they complete.

        Args:
            samples: The next samples of the stream, any number.

        Returns:
            One Update per hop these samples complete (often none, sometimes several).

        Raises:
            SerkitError: the stream is closed.
            AudioError: the samples are not 1-D, or hold NaN or infinite values.
        """
        if self._closed:
            raise SerkitError(f"{self.name}: the stream is closed")
        x = np.asarray(samples, dtype=np.float32)
        if x.ndim == 2:
            x = audio.to_mono(x)
        if x.ndim != 1:
            raise AudioError(
                self.name, f"expected mono samples, got an array of shape {x.shape}", AudioProblem.INVALID_SAMPLES
            )
        if not np.all(np.isfinite(x)):
            raise AudioError(self.name, "contains NaN or infinite samples", AudioProblem.INVALID_SAMPLES)
        if self._resampler is not None:
            x = self._resampler.resample_chunk(x, last=False)
        return self._consume(x)

    def feed_pcm16(self, data: bytes) -> list[Update]:
        """``feed`` for 16-bit little-endian mono PCM bytes (whole samples).

        Args:
            data: The next bytes of the stream: an even number of bytes.

        Returns:
            One Update per hop these samples complete.

        Raises:
            SerkitError: the stream is closed.
            AudioError: `data` is not a whole number of 16-bit samples.
        """
        return self.feed(decode_pcm16(data, name=self.name))

    def close(self) -> Prediction:
        """The end of the stream: the timeline of speech segments and the overall result, as
        ``predict_file(..., segment=True)``. Audio without speech gives a Prediction with ``error`` set.

        Returns:
            The overall Prediction, with the speech segments as its `segments`.

        Raises:
            SerkitError: the stream was already closed.
        """
        if self._closed:
            raise SerkitError(f"{self.name}: the stream is already closed")
        self._closed = True
        if self._resampler is not None:
            tail = self._resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
            self._timeline.observe(tail)
            self._queue(self._segmenter.push(tail))
        self._queue(self._segmenter.finish())
        while self._pending:
            self._predict_pending()
        self._recent_audio.clear()
        try:
            return self._timeline.result()
        except AudioError as exc:
            return Prediction(
                self.name,
                None,
                None,
                None,
                segments=(),
                error=str(exc),
                duration=self._timeline.seen / audio.SAMPLE_RATE,
            )

    # -- work -------------------------------------------------------------------------------------
    def _consume(self, x: np.ndarray) -> list[Update]:
        self._timeline.observe(x)
        self._queue(self._segmenter.push(x))
        buf = np.concatenate([self._hop_buf, x]) if len(self._hop_buf) else x
        updates = []
        k = 0
        while len(buf) - k >= self.hop_samples:
            updates.append(self._update(buf[k : k + self.hop_samples]))
            k += self.hop_samples
        self._hop_buf = np.array(buf[k:], dtype=np.float32)
        # Finished segments are predicted where no update is due, one at a time, so an update is
        # not held back behind them; a backlog (large chunks) is worked off at once.
        if not updates and self._pending:
            self._predict_pending()
        while self._pending_samples > PENDING_LIMIT_SECONDS * audio.SAMPLE_RATE:
            self._predict_pending()
        return updates

    def _queue(self, segments: list[SpeechSegment]) -> None:
        for seg in segments:
            self._pending.append(seg)
            self._pending_samples += len(seg[2])

    def _predict_pending(self) -> None:
        start, stop, samples = self._pending.popleft()
        self._pending_samples -= len(samples)
        self._timeline.add(start, stop, samples)

    def _update(self, hop: np.ndarray) -> Update:
        sr = audio.SAMPLE_RATE
        start = self._hops * self.hop_samples / sr
        end = start + self.hop_samples / sr
        self._hops += 1
        levels = frame_levels(hop)
        self._levels.extend(levels.tolist())
        threshold = speech_threshold(np.fromiter(self._levels, dtype=np.float64, count=len(self._levels)), self._cfg)
        speech = bool(np.count_nonzero(levels > threshold) >= SPEECH_SHARE * len(levels))
        self._recent_audio.append((hop, speech))
        self._audio_len += len(hop)
        while self._audio_len - len(self._recent_audio[0][0]) >= self.window_samples:
            self._audio_len -= len(self._recent_audio.popleft()[0])
        heard = sum(len(h) for h, s in self._recent_audio if s) / sr
        if heard < self.min_speech:
            self._recent.clear()  # a pause long enough to empty the window: the next utterance starts afresh
        if not speech or heard < self.min_speech:
            return Update(start, end, speech=speech, speech_seconds=heard)
        window = np.concatenate([h for h, _ in self._recent_audio])[-self.window_samples :]
        try:
            r = self.predictor.predict_signal(window, name=self.name, segment=False)
        except AudioError:  # e.g. too quiet overall to predict: speech was heard, no label
            return Update(start, end, speech=True, speech_seconds=heard)
        probabilities = r.probabilities or {}
        self._recent.append(np.array([probabilities[c] for c in self.labels]))
        smoothed = self.predictor.decide(np.mean(self._recent, axis=0))
        return Update(
            start,
            end,
            True,
            r.label,
            r.confidence,
            probabilities,
            smoothed.label,
            smoothed.confidence,
            smoothed.probabilities,
            heard,
        )


# -- PCM bytes ----------------------------------------------------------------------------------------
# What a payload is when it is not raw PCM: the containers a client is likely to send by mistake
# (MediaRecorder's WebM, a whole file).
_CONTAINERS: tuple[tuple[int, bytes, str], ...] = (
    (0, b"RIFF", "WAV"),
    (0, b"RIFX", "WAV"),
    (0, b"fLaC", "FLAC"),
    (0, b"OggS", "Ogg"),
    (0, b"FORM", "AIFF"),
    (0, b"\x1a\x45\xdf\xa3", "WebM/Matroska"),
    (0, b"ID3", "MP3"),
    (4, b"ftyp", "MP4"),
)


def sniff_container(data: bytes) -> str | None:
    """The name of the file format ``data`` starts with, or None when it may be raw PCM."""
    for offset, magic, name in _CONTAINERS:
        if data[offset : offset + len(magic)] == magic:
            return name
    return None


def decode_pcm16(data: bytes, *, name: str = "<stream>", channels: int = 1) -> np.ndarray:
    """16-bit little-endian PCM bytes to mono float32 in -1..1 (channels averaged)."""
    frame = PCM_BYTES * channels
    if len(data) % frame:
        what = "2 bytes per sample" if channels == 1 else f"{frame} bytes per frame ({channels} channels)"
        raise AudioError(
            name, f"{len(data)} bytes is not a whole number of samples: 16-bit PCM has {what}", AudioProblem.CORRUPT
        )
    x = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
    if channels > 1:
        x = x.reshape(-1, channels).mean(axis=1, dtype=np.float32)
    return x


@dataclasses.dataclass(frozen=True)
class PcmFormat:
    sample_rate: int
    channels: int


def read_wav_header(
    read: Callable[[int], bytes], *, name: str = "<stdin>", max_bytes: int = 1 << 16
) -> tuple[PcmFormat | None, bytes]:
    """For a byte stream that may start with a WAV header (``arecord`` writes one unless ``-t raw``):
    (its format, or None for raw PCM; the bytes read past the header, which are samples).

    Only 16-bit integer PCM is accepted; its data size is ignored (a recorder writing to a pipe
    cannot fill it in).
    """
    head = _read_exactly(read, 12)
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        kind = sniff_container(head)
        if kind is not None:
            raise AudioError(
                name,
                f"{kind} data, not raw PCM or a WAV stream: send 16-bit PCM "
                "(e.g. ffmpeg -i FILE -f s16le -ac 1 -ar 16000 -), or give the file's name instead",
                AudioProblem.UNRECOGNISED,
            )
        return None, head
    fmt: PcmFormat | None = None
    used = 12
    while True:
        chunk = _read_exactly(read, 8)
        if len(chunk) < 8:
            raise AudioError(name, "the WAV header ends before its data chunk", AudioProblem.TRUNCATED)
        cid, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
        used += 8
        if cid == b"data":
            if fmt is None:
                raise AudioError(name, "WAV stream without a 'fmt ' chunk before its data", AudioProblem.CORRUPT)
            return fmt, b""
        if used + size > max_bytes:
            raise AudioError(
                name, f"WAV header chunk {cid!r} of {size} bytes: not a stream header", AudioProblem.CORRUPT
            )
        body = _read_exactly(read, size + (size & 1))
        used += len(body)
        if cid == b"fmt ":
            if len(body) < 16:
                raise AudioError(name, "WAV 'fmt ' chunk is cut short", AudioProblem.TRUNCATED)
            tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
            if tag == 0xFFFE and len(body) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the real tag opens the sub-format GUID
                tag = struct.unpack("<H", body[24:26])[0]
            if tag != 1 or bits != 16:
                raise AudioError(
                    name,
                    f"WAV stream of {bits}-bit {'PCM' if tag == 1 else f'format {tag}'}: only "
                    "16-bit PCM is read here (arecord -f S16_LE)",
                    AudioProblem.UNRECOGNISED,
                )
            if channels < 1:
                raise AudioError(name, "WAV stream with 0 channels", AudioProblem.CORRUPT)
            audio.check_sample_rate(rate, name=name)
            fmt = PcmFormat(rate, channels)


def _read_exactly(read: Callable[[int], bytes], n: int) -> bytes:
    parts, have = [], 0
    while have < n:
        part = read(n - have)
        if not part:
            break
        parts.append(part)
        have += len(part)
    return b"".join(parts)
