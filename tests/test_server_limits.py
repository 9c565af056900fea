"""What one request may cost the server: concurrency, body time-outs, idle connections, health counts.

Against the real app (fake predictor), through the ASGI interface or a real uvicorn on a local
socket where the behaviour lives in the HTTP layer.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from serkit.errors import AudioError, AudioProblem
from serkit.server import ServerSettings, create_app
from serkit.server.limits import FAILURE_STREAK, RequestStats
from serkit.server.problems import AUDIO_STATUS
from test_server import FakePredictor, assert_error, wav_bytes

BOUNDARY = "serkitboundary"


def multipart(data: bytes, filename: str = "tone.wav") -> bytes:
    head = (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: audio/wav\r\n\r\n").encode()
    return head + data + f"\r\n--{BOUNDARY}--\r\n".encode()


MULTIPART_HEADERS = [(b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode())]


async def asgi_call(app, chunks: list[bytes], *, stall: bool = False, headers=(), method: str = "POST",
                    path: str = "/api/predict", gap: float = 0.0) -> tuple[int, dict[str, str], bytes, int]:
    """One request through the ASGI interface, its body fed chunk by chunk (``gap`` seconds apart).

    ``stall``: after the chunks the client sends nothing more, but never ends the body (a client
    that declared more than it sends). Returns (status, headers, body, chunks the app read).
    """
    pending = list(chunks)
    read = 0

    async def receive() -> dict:
        nonlocal read
        if not pending:
            await asyncio.Event().wait()  # never set: the client is silent for ever
        if gap and read:
            await asyncio.sleep(gap)
        read += 1
        body = pending.pop(0)
        return {"type": "http.request", "body": body, "more_body": bool(pending) or stall}

    messages: list[dict] = []

    async def send(message: dict) -> None:
        messages.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", b"testserver"), *MULTIPART_HEADERS, *headers],
        "client": ("127.0.0.1", 1), "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    start = messages[0]
    response_headers = {k.decode().lower(): v.decode() for k, v in start.get("headers", [])}
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return start["status"], response_headers, body, read


class Blocking(FakePredictor):
    """Predictions wait until ``release`` is set: requests stay in progress as long as the test wants."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.started = threading.Semaphore(0)

    def predict_bytes(self, data: bytes, *, name: str = "<upload>"):
        self.started.release()
        if not self.release.wait(timeout=30):
            raise RuntimeError("test never released the prediction")
        return super().predict_bytes(data, name=name)


# --------------------------------------------------------------------------- settings
def test_default_max_concurrent_is_one_per_core() -> None:
    import os

    assert ServerSettings().max_concurrent == len(os.sched_getaffinity(0))


@pytest.mark.parametrize(
    ("field", "value"),
    [("max_concurrent", 0), ("max_concurrent", 2.5), ("max_upload_mb", 0), ("max_upload_mb", float("nan")),
     ("read_timeout", 0), ("upload_timeout", -1), ("keep_alive_timeout", float("inf"))],
)
def test_settings_out_of_range_name_the_setting_and_range(field: str, value: float) -> None:
    from serkit.errors import ConfigError

    with pytest.raises(ConfigError, match=rf"{field} must be .* got {value!r}".replace("(", r"\(")):
        ServerSettings(**{field: value})


# --------------------------------------------------------------------------- concurrency
def test_predictions_over_the_limit_get_503_with_retry_after() -> None:
    fake = Blocking()
    app = create_app(fake, max_concurrent=2)
    data = wav_bytes()

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            async def post() -> httpx.Response:
                return await c.post("/api/predict", files={"file": ("t.wav", data, "audio/wav")})

            held = [asyncio.create_task(post()) for _ in range(2)]
            for _ in range(2):  # both predictions are running
                assert await asyncio.to_thread(fake.started.acquire, True, 10)
            t0 = time.perf_counter()
            busy = await post()
            assert time.perf_counter() - t0 < 1.0  # refused at once, not queued
            assert "busy" in assert_error(busy, 503)
            assert busy.headers["retry-after"] == "1"
            health = (await c.get("/api/health")).json()  # GETs are not limited
            assert health["in_flight"] == 2 and health["max_concurrent"] == 2
            fake.release.set()
            assert [r.status_code for r in await asyncio.gather(*held)] == [200, 200]
            assert (await post()).status_code == 200  # the slots were given back
            health = (await c.get("/api/health")).json()
            assert health["in_flight"] == 0 and health["busy_last_minute"] == 1

    try:
        asyncio.run(scenario())
    finally:
        fake.release.set()
    assert fake.calls == 3


def test_uploads_being_received_hold_a_slot() -> None:
    """Two uploads that are still arriving fill max_concurrent=2: a third request is refused unread."""
    fake = FakePredictor()
    app = create_app(fake, max_concurrent=2, read_timeout=60)
    body = multipart(wav_bytes())

    async def scenario() -> None:
        held = [asyncio.create_task(asgi_call(app, [body[:100]], stall=True)) for _ in range(2)]
        await asyncio.sleep(0.2)
        status, headers, text, read = await asyncio.wait_for(asgi_call(app, [body]), timeout=5)
        assert status == 503 and headers["retry-after"] == "1" and read == 0
        for task in held:
            task.cancel()
        await asyncio.gather(*held, return_exceptions=True)
        status, _, _, _ = await asyncio.wait_for(asgi_call(app, [body]), timeout=5)
        assert status == 200  # a client that went away gave its slot back

    asyncio.run(scenario())
    assert fake.calls == 1


# --------------------------------------------------------------------------- time-outs
def test_body_that_stops_arriving_is_408_and_closes() -> None:
    """Content-Length promises more than the client sends: cut off after read_timeout, not held for ever."""
    fake = FakePredictor()
    app = create_app(fake, read_timeout=0.3)
    body = multipart(wav_bytes())
    length = [(b"content-length", str(len(body)).encode())]
    t0 = time.perf_counter()
    status, headers, text, _ = asyncio.run(asyncio.wait_for(asgi_call(app, [body[:500]], stall=True, headers=length), 10))
    assert status == 408 and b"no data for 0.3 s" in text
    assert headers["connection"] == "close"
    assert time.perf_counter() - t0 < 3
    assert fake.calls == 0


def test_body_that_trickles_in_is_408_after_the_upload_deadline() -> None:
    """A byte every 50 ms never trips the idle time-out; the whole-body deadline still ends it."""
    fake = FakePredictor()
    app = create_app(fake, read_timeout=5, upload_timeout=0.5)
    body = multipart(wav_bytes())
    chunks = [body[i : i + 1] for i in range(len(body))]  # ~44 kB at 20 B/s: half an hour
    t0 = time.perf_counter()
    status, headers, text, read = asyncio.run(asyncio.wait_for(asgi_call(app, chunks, gap=0.05), 10))
    assert status == 408 and b"not complete after 0.5 s" in text
    assert headers["connection"] == "close"
    assert time.perf_counter() - t0 < 3 and read < 40
    assert fake.calls == 0


@pytest.fixture
def live_server() -> Iterator[tuple[str, int]]:
    """The app under a real uvicorn (the configuration ``serkit serve`` uses) on a free local port."""
    from fixtures import serving

    settings = ServerSettings(read_timeout=0.5, keep_alive_timeout=0.5, allowed_hosts=("127.0.0.1",))
    with serving(create_app(FakePredictor(), settings=settings), settings) as port:
        yield "127.0.0.1", port


def read_until_closed(conn: socket.socket, limit: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection; fails if it is still open after ``limit`` s."""
    conn.settimeout(limit)
    t0 = time.perf_counter()
    out = b""
    while True:
        try:
            chunk = conn.recv(65536)
        except TimeoutError:
            pytest.fail(f"connection still open after {limit} s; received {out[:80]!r}")
        if not chunk:
            return out, time.perf_counter() - t0
        out += chunk


def test_real_server_closes_a_connection_whose_body_never_comes(live_server: tuple[str, int]) -> None:
    host, port = live_server
    body = multipart(wav_bytes())
    head = (f"POST /api/predict HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    with socket.create_connection((host, port)) as conn:
        conn.sendall(head + body[:300])  # then nothing
        response, waited = read_until_closed(conn, 5)
    assert response.startswith(b"HTTP/1.1 408"), response[:200]
    assert waited < 3


def test_real_server_closes_idle_keep_alive_connections(live_server: tuple[str, int]) -> None:
    host, port = live_server
    with socket.create_connection((host, port)) as conn:
        conn.sendall(f"GET /api/health HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        response, waited = read_until_closed(conn, 5)  # keep-alive: open until the idle time-out
    assert response.startswith(b"HTTP/1.1 200"), response[:200]
    assert 0.3 < waited < 3


# --------------------------------------------------------------------------- health
def test_health_counts_failures_and_is_not_ok_while_every_prediction_fails(caplog) -> None:
    fake = FakePredictor()
    working = fake.predict_bytes

    def boom(data: bytes, *, name: str = "<upload>"):
        raise RuntimeError("model exploded")

    fake.predict_bytes = boom  # type: ignore[method-assign]
    with TestClient(create_app(fake)) as c:
        post = lambda: c.post("/api/predict", files={"file": ("t.wav", wav_bytes(), "audio/wav")})  # noqa: E731
        assert c.get("/api/health").json()["status"] == "ok"
        for _ in range(FAILURE_STREAK):
            assert post().json() == {"error": "internal server error"}
        r = c.get("/api/health")
        assert r.status_code == 503
        body = r.json()
        assert body["status"] == "degraded"
        assert body["errors_last_minute"] == FAILURE_STREAK == body["requests_last_minute"]
        assert body["consecutive_failures"] == FAILURE_STREAK
        assert_error(c.post("/api/predict", files={"file": ("x.wav", b"", "audio/wav")}), 400)  # 4xx: no verdict
        assert c.get("/api/health").json()["status"] == "degraded"
        fake.predict_bytes = working  # type: ignore[method-assign]
        assert post().status_code == 200
        body = c.get("/api/health").json()
        assert body["status"] == "ok" and body["consecutive_failures"] == 0
        assert body["requests_last_minute"] == FAILURE_STREAK + 2 and body["errors_last_minute"] == FAILURE_STREAK
    assert caplog.text.count("model exploded") >= FAILURE_STREAK  # the tracebacks are in the log


def test_request_counts_cover_the_last_minute_only() -> None:
    now = [1000.0]
    stats = RequestStats(clock=lambda: now[0])
    stats.record(500)
    stats.record_busy()
    now[0] += 30
    stats.record(200)
    assert stats.last_minute() == {"requests_last_minute": 3, "errors_last_minute": 1, "busy_last_minute": 1}
    now[0] += 31  # the first two are now 61 s old
    assert stats.last_minute() == {"requests_last_minute": 1, "errors_last_minute": 0, "busy_last_minute": 0}
    now[0] += 3600
    assert stats.last_minute()["requests_last_minute"] == 0


# --------------------------------------------------------------------------- audio problems -> statuses
def test_status_table_covers_every_audio_problem() -> None:
    assert set(AUDIO_STATUS) == set(AudioProblem)
    assert (AUDIO_STATUS[AudioProblem.EMPTY], AUDIO_STATUS[AudioProblem.UNRECOGNISED],
            AUDIO_STATUS[AudioProblem.TOO_LONG]) == (400, 415, 413)
    assert {s for k, s in AUDIO_STATUS.items()
            if k not in {AudioProblem.EMPTY, AudioProblem.UNRECOGNISED, AudioProblem.TOO_LONG}} == {422}


@pytest.mark.parametrize("kind", list(AudioProblem), ids=lambda k: k.value)
def test_audio_error_status_comes_from_its_kind_not_its_text(kind: AudioProblem) -> None:
    fake = FakePredictor()

    def refuse(data: bytes, *, name: str = "<upload>"):
        raise AudioError(name, "something is wrong with it", kind)  # the same text for every kind

    fake.predict_bytes = refuse  # type: ignore[method-assign]
    with TestClient(create_app(fake)) as c:
        r = c.post("/api/predict", files={"file": ("x.wav", wav_bytes(), "audio/wav")})
    assert assert_error(r, AUDIO_STATUS[kind]) == "x.wav: something is wrong with it"
