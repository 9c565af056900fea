"""Bounded cost: at most N prediction requests at once (uploads included), and what they did;
at most M live streams open at once.

Over the limit a request gets 503 with ``Retry-After`` at once, before its body is read: no
queue grows in memory (eight held 24 MB uploads would add 170 MB). ``RequestStats`` keeps the
last minute in 60 one-second buckets (bounded, whatever the rate) for ``/api/health``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serkit.server.problems import RETRY_AFTER_SECONDS, error_response

WINDOW_SECONDS = 60
FAILURE_STREAK = 5  # this many server failures in a row, no success since: health says "degraded"


@dataclass
class Bucket:
    second: int = -1
    requests: int = 0
    errors: int = 0
    busy: int = 0


class RequestStats:
    """Counts of prediction requests over the last minute, and the current run of failures."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.buckets = [Bucket() for _ in range(WINDOW_SECONDS)]
        self.consecutive_failures = 0

    def _bucket(self) -> Bucket:
        second = int(self.clock())
        bucket = self.buckets[second % WINDOW_SECONDS]
        if bucket.second != second:
            bucket.second, bucket.requests, bucket.errors, bucket.busy = second, 0, 0, 0
        return bucket

    def record(self, status: int) -> None:
        """One answered prediction request: 2xx resets the failure run, 5xx extends it, 4xx says nothing."""
        bucket = self._bucket()
        bucket.requests += 1
        if status >= 500:
            bucket.errors += 1
            self.consecutive_failures += 1
        elif status < 400:
            self.consecutive_failures = 0

    def record_busy(self) -> None:
        bucket = self._bucket()
        bucket.requests += 1
        bucket.busy += 1

    def last_minute(self) -> dict[str, int]:
        now = int(self.clock())
        live = [b for b in self.buckets if now - WINDOW_SECONDS < b.second <= now]
        return {
            "requests_last_minute": sum(b.requests for b in live),
            "errors_last_minute": sum(b.errors for b in live),
            "busy_last_minute": sum(b.busy for b in live),
        }

    @property
    def degraded(self) -> bool:
        return self.consecutive_failures >= FAILURE_STREAK


def costly(scope: Scope) -> bool:
    """Requests that carry a body and run the model: every non-safe method (today, POST /api/predict)."""
    return scope["type"] == "http" and scope["method"] not in {"GET", "HEAD", "OPTIONS"}


class Admission:
    """The count of costly requests in progress against the limit (touched only on the event loop: no lock)."""

    def __init__(self, *, max_concurrent: int, stats: RequestStats) -> None:
        self.max_concurrent = max_concurrent
        self.stats = stats
        self.in_flight = 0

    def try_enter(self) -> bool:
        if self.in_flight >= self.max_concurrent:
            self.stats.record_busy()
            return False
        self.in_flight += 1
        return True

    def leave(self, status: int) -> None:
        self.in_flight -= 1
        self.stats.record(status)


class AdmissionLimit:
    """Pure ASGI: a costly request waits for nothing; it is admitted, or refused with 503 + Retry-After."""

    def __init__(self, app: ASGIApp, *, admission: Admission) -> None:
        self.app = app
        self.admission = admission

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not costly(scope):
            await self.app(scope, receive, send)
            return
        gate = self.admission
        if not gate.try_enter():
            message = (
                f"server busy: {gate.in_flight} requests in progress (limit {gate.max_concurrent}); "
                f"retry after {RETRY_AFTER_SECONDS} s"
            )
            await error_response(503, message, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})(scope, receive, send)
            return
        status = 500  # unless a response starts: an exception escaping the app is a server failure

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            gate.leave(status)


class StreamSlots:
    """Live streams open at once against ``--max-streams`` (touched only on the event loop: no lock).

    A stream over the limit is refused at once with a message and a close code; none waits.
    """

    def __init__(self, *, limit: int) -> None:
        self.limit = limit
        self.open = 0
        self.refused = 0

    def try_open(self) -> bool:
        if self.open >= self.limit:
            self.refused += 1
            return False
        self.open += 1
        return True

    def release(self) -> None:
        self.open -= 1
