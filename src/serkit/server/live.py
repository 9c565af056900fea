"""The live stream: WebSocket ``/api/stream``, 16-bit PCM in, an update per hop out, the timeline at the end.

Protocol (JSON text messages one way and the other, audio as binary messages):

* server -> ``{"type": "ready", "labels", "hop", "window", "smooth", "sample_rate", "max_seconds",
  "max_message_bytes", "max_lead", "max_messages"}`` once the stream is admitted;
* client -> optional first message ``{"type": "start", "sample_rate": 48000}`` (default 16000; the
  server resamples), then binary messages of 16-bit little-endian mono PCM, whole samples, any number
  per message;
* server -> ``{"type": "update", ...}`` per hop (``serkit.streaming.Update.to_dict``);
* client -> ``{"type": "stop"}`` (or it closes the socket); server -> ``{"type": "summary", ...}``
  (what ``serkit predict --format json`` gives for the same audio) and close code 1000.

What a stream may cost is bounded: ``--max-streams`` open at once (the next gets an error and close
code 1013 at once), ``--max-stream-seconds`` of audio or of wall-clock time (then the summary, an error
and 1008), ``--max-message-kb`` per message (1009), ``--read-timeout`` without a message (1008), and
a client may run at most ``--max-stream-lead`` seconds ahead of real time: one that sends faster is
refused (1008), never queued. Every message costs work whatever its size, so the message rate is
bounded too: ``--max-stream-messages`` a second on average, after a burst of 10 s worth (a token
bucket); a flood of tiny messages is refused (1008) within its burst. Audio is gathered into pieces of
at least 50 ms before the model sees it, so small messages cost a copy each, not a pass of the
model. The receive loop takes one message at a time, so a fast client meets back-pressure (the
WebSocket layer holds at most a few messages), not a growing queue. Bad input --
text where audio is expected (1003), a file format instead of raw PCM (1003), half a sample or a bad
``start`` message (1007) -- gets ``{"type": "error", "error": "..."}`` and a close; other streams go on.
A client that disconnects leaves nothing behind: its stream object is dropped with the handler.
"""

from __future__ import annotations

import json
import logging
from enum import IntEnum
from typing import Any

import anyio
import numpy as np
from fastapi.concurrency import run_in_threadpool
from starlette.websockets import WebSocket, WebSocketDisconnect

from serkit.errors import ConfigError, SerkitError
from serkit.server.limits import StreamSlots
from serkit.server.predictor import PredictorHolder
from serkit.server.problems import GENERIC_500, ApiError
from serkit.server.settings import ServerSettings
from serkit.streaming import BOUNDS as STREAM_BOUNDS
from serkit.streaming import Message, StreamingPredictor, decode_pcm16, sniff_container, summary_message

logger = logging.getLogger("serkit.server")

STREAM_NAME = "live"
START_FIELDS = frozenset({"type", "sample_rate", "encoding", "channels"})
ENCODING = "pcm_s16le"
BURST_SECONDS = 10.0  # the message-rate bucket holds this many seconds' worth of --max-stream-messages
GATHER_SECONDS = 0.05  # audio is fed to the model in pieces of at least this much


class Close(IntEnum):
    """WebSocket close codes (RFC 6455 section 7.4.1) this endpoint uses."""

    NORMAL = 1000
    UNSUPPORTED = 1003  # text where audio is expected, a container file instead of raw PCM
    INVALID = 1007  # half a sample, a malformed or misplaced control message, a bad sample rate
    POLICY = 1008  # faster than real time, longer than allowed, silent for too long
    TOO_BIG = 1009
    INTERNAL = 1011
    BUSY = 1013  # try again later: --max-streams streams are open


class StreamEnd(Exception):
    """Ends a stream with an error message and a close code."""

    def __init__(self, code: Close, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


async def send(ws: WebSocket, body: dict[str, Any]) -> bool:
    """Send one JSON message; False when the client has gone."""
    try:
        await ws.send_text(json.dumps(body, allow_nan=False))
        return True
    except (WebSocketDisconnect, RuntimeError, OSError):
        return False


async def close(ws: WebSocket, code: Close, message: str | None = None) -> None:
    """An error message (when given), then the close frame."""
    if message is not None and not await send(ws, {"type": Message.ERROR.value, "error": message, "code": int(code)}):
        return
    try:
        await ws.close(code=int(code), reason=(message or "")[:120].encode()[:120].decode(errors="ignore"))
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass


async def live_stream(ws: WebSocket, *, holder: PredictorHolder, settings: ServerSettings, slots: StreamSlots) -> None:
    """One live stream, from accept to close; the slot is given back however it ends."""
    await ws.accept()
    if not slots.try_open():
        logger.info("live stream refused: %d open (limit %d)", slots.open, slots.limit)
        await close(
            ws, Close.BUSY, f"server busy: {slots.open} live streams are open (limit {slots.limit}); try again later"
        )
        return
    try:
        await Session(ws, holder=holder, settings=settings).run()
    finally:
        slots.release()


class Session:
    """The state of one stream: its StreamingPredictor (created by the first start or audio message) and counts."""

    def __init__(self, ws: WebSocket, *, holder: PredictorHolder, settings: ServerSettings) -> None:
        self.ws = ws
        self.holder = holder
        self.settings = settings
        self.stream: StreamingPredictor | None = None
        self.predictor: Any = None
        self.first_audio_at: float | None = None
        self.samples = 0  # received, at the declared rate
        self.messages = 0
        self.burst = settings.max_stream_messages * BURST_SECONDS
        self.tokens = self.burst  # messages the client may still send at once (a token bucket)
        self.refilled = anyio.current_time()
        self.gathered: list[np.ndarray] = []  # audio received and not yet fed (less than GATHER_SECONDS)
        self.gathered_samples = 0

    async def run(self) -> None:
        ws, settings = self.ws, self.settings
        try:
            self.predictor = await self.holder.get()
            defaults = StreamingPredictor(self.predictor, name=STREAM_NAME)
        except ApiError as exc:
            await close(ws, Close.INTERNAL, exc.message)
            return
        except SerkitError as exc:  # a model that cannot stream (e.g. one that normalises per speaker)
            await close(ws, Close.INTERNAL, str(exc))
            return
        ready = {
            "type": Message.READY.value,
            **defaults.describe(),
            "encoding": ENCODING,
            "max_seconds": settings.max_stream_seconds,
            "max_message_bytes": settings.max_message_bytes,
            "max_lead": settings.max_stream_lead,
            "max_messages": settings.max_stream_messages,
        }
        if not await send(ws, ready):
            return
        deadline = anyio.current_time() + settings.max_stream_seconds
        try:
            while True:
                now = anyio.current_time()
                if now >= deadline:
                    await self.finish(f"the stream reached the server's limit of {settings.max_stream_seconds:g} s")
                    return
                with anyio.move_on_after(min(settings.read_timeout, deadline - now)) as waiting:
                    message = await ws.receive()
                if waiting.cancelled_caught:
                    if anyio.current_time() >= deadline:
                        continue  # the limit: summary above
                    raise StreamEnd(Close.POLICY, f"no message for {settings.read_timeout:g} s: stream closed")
                if message["type"] == "websocket.disconnect":
                    return  # the client went: what was gathered is dropped with the session
                self.messages += 1
                self.take_token()
                going = True
                if message.get("bytes") is not None:
                    going = await self.audio(message["bytes"])
                elif message.get("text") is not None:
                    going = await self.control(message["text"])
                if not going:
                    return
        except StreamEnd as end:
            logger.info("live stream closed (%d): %s", end.code, end.message)
            await close(ws, end.code, end.message)
        except SerkitError as exc:
            await close(ws, Close.INVALID, str(exc))
        except Exception:  # logged; the client gets the generic message, other streams go on
            logger.exception("live stream failed after %d messages", self.messages)
            await close(ws, Close.INTERNAL, GENERIC_500)

    # -- messages ---------------------------------------------------------------------------------
    def take_token(self) -> None:
        """One message against the rate bound: refuse the stream once the bucket is empty."""
        rate = self.settings.max_stream_messages
        now = anyio.current_time()
        self.tokens = min(self.burst, self.tokens + (now - self.refilled) * rate)
        self.refilled = now
        if self.tokens < 1:
            raise StreamEnd(
                Close.POLICY,
                f"more than {rate:g} messages a second (after a burst of {self.burst:g}): "
                "send fewer, larger messages (20-500 ms of audio each); the stream is "
                "refused, not queued",
            )
        self.tokens -= 1

    async def control(self, text: str) -> bool:
        """A JSON control message; False when the stream is over."""
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        kind = body.get("type") if isinstance(body, dict) else None
        if kind == Message.STOP.value:
            await self.finish(None)
            return False
        if kind == Message.START.value:
            if self.stream is not None:
                raise StreamEnd(Close.INVALID, "'start' must be the first message, before any audio")
            self.stream = self.open_stream(body)
            return True
        if kind is not None:
            raise StreamEnd(
                Close.INVALID,
                f"unknown message type {str(kind)[:40]!r}; valid: "
                f"{Message.START.value!r} (first), {Message.STOP.value!r}",
            )
        shown = text[:60] + ("..." if len(text) > 60 else "")
        raise StreamEnd(
            Close.UNSUPPORTED,
            f"text message {shown!r} where audio was expected: send 16-bit PCM as "
            'binary messages, and {"type": "stop"} at the end',
        )

    def open_stream(self, body: dict[str, Any]) -> StreamingPredictor:
        unknown = sorted(set(body) - START_FIELDS)
        if unknown:
            raise StreamEnd(
                Close.INVALID,
                f"unknown field(s) {', '.join(map(repr, unknown))} in the start message; "
                f"valid: {', '.join(sorted(START_FIELDS))}",
            )
        encoding = body.get("encoding", ENCODING)
        if encoding != ENCODING:
            raise StreamEnd(Close.INVALID, f"encoding {encoding!r} is not supported; valid: {ENCODING!r}")
        if body.get("channels", 1) != 1:
            raise StreamEnd(Close.INVALID, f"channels {body.get('channels')!r}: send mono (1 channel)")
        rate = body.get("sample_rate", 16000)
        if isinstance(rate, float) and rate.is_integer():
            rate = int(rate)  # JSON from JavaScript may write 48000 as 48000.0
        try:
            STREAM_BOUNDS["sample_rate"].check("sample_rate", rate)
        except ConfigError as exc:
            raise StreamEnd(Close.INVALID, f"{exc} (the rate of the PCM that follows, in Hz)") from None
        return StreamingPredictor(self.predictor, sample_rate=rate, name=STREAM_NAME)

    async def audio(self, data: bytes) -> bool:
        """A binary message of PCM; False when the stream is over."""
        settings = self.settings
        if len(data) > settings.max_message_bytes:
            raise StreamEnd(
                Close.TOO_BIG,
                f"message of {len(data)} bytes: the limit is {settings.max_message_bytes} bytes (send smaller chunks)",
            )
        if self.stream is None:
            self.stream = StreamingPredictor(self.predictor, name=STREAM_NAME)
        first = self.first_audio_at is None
        if first:
            kind = sniff_container(data)
            if kind is not None:
                raise StreamEnd(
                    Close.UNSUPPORTED,
                    f"the audio is a {kind} file, not raw PCM: send 16-bit "
                    "little-endian mono PCM samples (POST /api/predict takes files)",
                )
        if len(data) % 2:
            raise StreamEnd(
                Close.INVALID, f"message of {len(data)} bytes is not a whole number of 16-bit samples (2 bytes each)"
            )
        samples = decode_pcm16(data, name=STREAM_NAME)
        now = anyio.current_time()
        if first:
            self.first_audio_at = now
        rate = self.stream.sample_rate
        limit = int(settings.max_stream_seconds * rate)
        at_limit = self.samples + len(samples) >= limit
        samples = samples[: max(0, limit - self.samples)]
        self.samples += len(samples)
        ahead = self.samples / rate - (now - (self.first_audio_at or now))
        if ahead > settings.max_stream_lead:
            raise StreamEnd(
                Close.POLICY,
                f"audio arrives faster than real time ({self.samples / rate:.1f} s of "
                f"audio in {now - (self.first_audio_at or now):.1f} s; at most "
                f"{settings.max_stream_lead:g} s ahead): the stream is refused, not queued",
            )
        if len(samples):
            self.gathered.append(samples)
            self.gathered_samples += len(samples)
        if self.gathered_samples >= GATHER_SECONDS * rate and not await self.flush():
            return False
        if at_limit:
            await self.finish(f"the stream reached the server's limit of {settings.max_stream_seconds:g} s of audio")
            return False
        return True

    async def flush(self) -> bool:
        """Feed the gathered audio to the model and send the updates; False when the client has gone."""
        if not self.gathered or self.stream is None:
            return True
        samples = self.gathered[0] if len(self.gathered) == 1 else np.concatenate(self.gathered)
        self.gathered, self.gathered_samples = [], 0
        updates = await run_in_threadpool(self.stream.feed, samples)
        for update in updates:
            if not await send(self.ws, update.to_dict()):
                return False
        return True

    async def finish(self, limit_reason: str | None) -> None:
        """The summary, then a normal close (stop) or an error and 1008 (a limit)."""
        if not await self.flush():
            return
        stream = self.stream or StreamingPredictor(self.predictor, name=STREAM_NAME)
        self.stream = None
        summary = await run_in_threadpool(stream.close)
        if not await send(self.ws, summary_message(summary)):
            return
        if limit_reason is None:
            await close(self.ws, Close.NORMAL)
        else:
            await close(self.ws, Close.POLICY, limit_reason)
