"""The web API and page, against a fake predictor (fast: no model, no browser)."""

from __future__ import annotations

import asyncio
import io
import re
import sys
import time
import types
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from serkit import audio
from serkit.errors import BundleError
from serkit.server import create_app
from serkit.server.app import safe_upload_name

LABELS = ["neutral", "happy", "sad", "angry"]
EXTERNAL_URL = re.compile(r"(https?:)?//[\w-]+\.[\w.-]+/")
PAGE_IDS = [
    "file-input",
    "upload-button",
    "record-button",
    "stop-button",
    "result-label",
    "result-confidence",
    "probabilities",
    "timeline",
    "error",
]


# --------------------------------------------------------------------------- fake predictor
@dataclass(frozen=True)
class FakePrediction:
    path: str
    label: str
    confidence: float
    probabilities: dict[str, float]
    segments: list[dict] | None = None
    error: str | None = None

    def to_dict(self) -> dict:
        out = {
            "path": self.path,
            "label": self.label,
            "confidence": self.confidence,
            "probabilities": dict(self.probabilities),
        }
        if self.segments:
            out["segments"] = [dict(s) for s in self.segments]
        if self.error:
            out["error"] = self.error
        return out


def _probabilities(signal: np.ndarray) -> dict[str, float]:
    """Fixed, deterministic probabilities derived from the signal (same bytes, same answer)."""
    rms = float(np.sqrt(np.mean(signal**2)))
    zcr = float(np.mean(np.abs(np.diff(np.signbit(signal).astype(np.int8))))) if signal.size > 1 else 0.0
    peak = float(np.max(np.abs(signal)))
    logits = np.array([1.0, 8.0 * rms, 6.0 * zcr, 2.0 * peak])
    p = np.exp(logits - logits.max())
    p /= p.sum()
    return {label: round(float(v), 6) for label, v in zip(LABELS, p)}


@dataclass
class FakePredictor:
    """Same API as serkit.inference.Predictor; decodes with serkit.audio, no model."""

    labels: list[str] = field(default_factory=lambda: list(LABELS))
    calls: int = 0
    segment_seconds: float = 4.0
    long_seconds: float = 8.0

    @classmethod
    def load(cls, path=None) -> FakePredictor:
        return cls()

    def describe(self) -> dict:
        return {  # the keys serkit.inference.Predictor.describe() uses
            "model": "fake-model",
            "features": ["rms", "zcr"],
            "labels": list(self.labels),
            "corpora": ["ravdess"],
            "ua": 0.5,
            "wa": 0.55,
            "protocol": "leave-one-speaker-out",
            "card": "A fake model for tests.",
            "licence": "non-commercial (inherits the licences of ravdess)",
        }

    def _predict(self, signal: np.ndarray, name: str) -> FakePrediction:
        self.calls += 1
        probs = _probabilities(signal)
        label = max(probs, key=probs.get)
        segments = None
        duration = signal.size / audio.SAMPLE_RATE
        if duration > self.long_seconds:
            hop = int(self.segment_seconds * audio.SAMPLE_RATE)
            segments = []
            for start in range(0, signal.size, hop):
                piece = signal[start : start + hop]
                if piece.size < audio.SAMPLE_RATE // 4:
                    break
                sp = _probabilities(piece)
                sl = max(sp, key=sp.get)
                segments.append(
                    {
                        "start": start / audio.SAMPLE_RATE,
                        "end": (start + piece.size) / audio.SAMPLE_RATE,
                        "label": sl,
                        "confidence": sp[sl],
                        "probabilities": sp,
                    }
                )
        return FakePrediction(name, label, probs[label], probs, segments)

    def predict_bytes(self, data: bytes, *, name: str = "<upload>") -> FakePrediction:
        return self._predict(audio.load(data, name=name), name)

    def predict_file(self, path) -> FakePrediction:
        return self._predict(audio.load(path), str(path))


# --------------------------------------------------------------------------- helpers
def wav_bytes(seconds: float = 1.0, freq: float = 220.0, amplitude: float = 0.3, sr: int = 22_050) -> bytes:
    t = np.arange(int(seconds * sr)) / sr
    signal = (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, signal, sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


@pytest.fixture
def fake() -> FakePredictor:
    return FakePredictor()


@pytest.fixture
def client(fake: FakePredictor) -> TestClient:
    with TestClient(create_app(fake)) as c:
        yield c


def assert_error(response, *statuses: int) -> str:
    assert response.status_code in statuses, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"], str) and body["error"]
    return body["error"]


# --------------------------------------------------------------------------- API
def test_health(client: TestClient) -> None:
    r = client.get("/api/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["model"] == "fake-model"
    assert body["labels"] == LABELS
    assert body["max_upload_mb"] == 25


def test_model_is_describe(client: TestClient, fake: FakePredictor) -> None:
    r = client.get("/api/model")
    assert r.status_code == 200
    assert r.json() == fake.describe()


def test_predict_valid_wav_returns_to_dict(client: TestClient, fake: FakePredictor) -> None:
    data = wav_bytes()
    r = client.post("/api/predict", files={"file": ("tone.wav", data, "audio/wav")})
    assert r.status_code == 200, r.text
    assert r.json() == FakePredictor().predict_bytes(data, name="tone.wav").to_dict()
    assert r.json()["label"] in LABELS
    assert fake.calls == 1


def test_predict_long_audio_has_segments(client: TestClient) -> None:
    r = client.post("/api/predict", files={"file": ("long.wav", wav_bytes(seconds=10.0), "audio/wav")})
    assert r.status_code == 200, r.text
    segments = r.json()["segments"]
    assert [s["start"] for s in segments] == [0.0, 4.0, 8.0]


def test_predict_decides_format_by_content(client: TestClient) -> None:
    # FLAC bytes under a .mp3 name and a wrong MIME type: the decoder sniffs the content.
    buf = io.BytesIO()
    sf.write(buf, 0.3 * np.sin(np.linspace(0, 2000, 16_000)).astype(np.float32), 16_000, format="FLAC")
    r = client.post("/api/predict", files={"file": ("song.mp3", buf.getvalue(), "text/plain")})
    assert r.status_code == 200, r.text
    assert r.json()["path"] == "song.mp3"


def test_empty_file(client: TestClient, fake: FakePredictor) -> None:
    message = assert_error(client.post("/api/predict", files={"file": ("empty.wav", b"", "audio/wav")}), 400, 422)
    assert "empty" in message
    assert fake.calls == 0


def test_text_file(client: TestClient) -> None:
    r = client.post("/api/predict", files={"file": ("notes.wav", b"hello, this is not audio\n" * 50, "audio/wav")})
    message = assert_error(r, 415, 422)
    assert "notes.wav" in message and "audio" in message


def test_silent_audio_is_a_clean_4xx(client: TestClient) -> None:
    r = client.post("/api/predict", files={"file": ("quiet.wav", wav_bytes(amplitude=0.0), "audio/wav")})
    assert "silent" in assert_error(r, 422)


def test_upload_over_limit_is_413(fake: FakePredictor) -> None:
    with TestClient(create_app(fake, max_upload_mb=1)) as c:
        r = c.post("/api/predict", files={"file": ("big.wav", b"\0" * (2 * 1024 * 1024), "audio/wav")})
        assert "too large" in assert_error(r, 413)
        # Just over the limit (file bytes only): still refused.
        r = c.post("/api/predict", files={"file": ("big.wav", b"\0" * (1024 * 1024 + 1), "audio/wav")})
        assert_error(r, 413)
    assert fake.calls == 0


def asgi_post(app, headers: list[tuple[bytes, bytes]], chunks) -> tuple[int, bytes, int]:
    """POST straight through the ASGI interface, feeding the body chunk by chunk.

    Returns (status, body, number of body chunks the app asked for): TestClient hands the app
    the whole body at once, which cannot show that reading stops early.
    """
    chunks = list(chunks)
    read = 0

    async def scenario() -> list[dict]:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/api/predict",
            "raw_path": b"/api/predict",
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"test"), *headers],
            "client": ("127.0.0.1", 1),
            "server": ("test", 80),
        }
        messages: list[dict] = []

        async def receive() -> dict:
            nonlocal read
            if read >= len(chunks):
                await asyncio.sleep(3600)  # a client that never sends more
            read += 1
            return {"type": "http.request", "body": chunks[read - 1], "more_body": read < len(chunks)}

        async def send(message: dict) -> None:
            messages.append(message)

        await asyncio.wait_for(app(scope, receive, send), timeout=10)
        return messages

    messages = asyncio.run(scenario())
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return messages[0]["status"], body, read


def test_upload_over_limit_without_content_length_is_413(fake: FakePredictor) -> None:
    """A chunked body (no Content-Length) is refused as soon as the running count passes the limit."""
    boundary = "serkitboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode()
    chunks = [head] + [b"\0" * 65536] * 64 + [f"\r\n--{boundary}--\r\n".encode()]  # 4 MB
    headers = [(b"content-type", f"multipart/form-data; boundary={boundary}".encode())]
    status, body, read = asgi_post(create_app(fake, max_upload_mb=1), headers, chunks)
    assert status == 413 and b"too large" in body
    assert read <= 1 + 17  # stopped right after 1 MB, not after 4 MB
    assert fake.calls == 0


def test_declared_content_length_over_limit_is_refused_before_reading(fake: FakePredictor) -> None:
    headers = [
        (b"content-type", b"multipart/form-data; boundary=x"),
        (b"content-length", str(50 * 1024 * 1024).encode()),
    ]
    status, body, read = asgi_post(create_app(fake, max_upload_mb=1), headers, [b"\0" * 65536] * 800)
    assert status == 413 and b"too large" in body
    assert read == 0  # not one body chunk was read


@pytest.mark.parametrize(
    "kwargs",
    [
        {"files": {"upload": ("tone.wav", wav_bytes(), "audio/wav")}},  # wrong field name
        {"data": {"comment": "hi"}, "files": {"audio": ("tone.wav", wav_bytes(), "audio/wav")}},
        {"json": {"file": "tone.wav"}},  # not multipart at all
        {},  # no body
    ],
    ids=["wrong-field", "other-fields", "json", "no-body"],
)
def test_missing_file_field_is_422(client: TestClient, fake: FakePredictor, kwargs: dict) -> None:
    message = assert_error(client.post("/api/predict", **kwargs), 422)
    assert "'file'" in message
    assert fake.calls == 0


def test_malformed_multipart_is_400(client: TestClient) -> None:
    r = client.post(
        "/api/predict",
        content=b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\nRIFF',  # truncated
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert_error(r, 400)


@pytest.mark.parametrize("filename", ["../../x.wav", "..\\..\\x.wav", "/etc/x.wav", "x\x00.wav/../x.wav"])
def test_path_like_filename_is_harmless(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, filename: str
) -> None:
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    r = client.post("/api/predict", files={"file": (filename, wav_bytes(), "audio/wav")})
    assert r.status_code == 200, r.text
    assert r.json()["path"] == "x.wav"
    assert ".." not in r.json()["path"] and "/" not in r.json()["path"]
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []  # nothing written


def test_path_like_filename_in_error_message(client: TestClient) -> None:
    message = assert_error(client.post("/api/predict", files={"file": ("../../x.wav", b"", "audio/wav")}), 400, 422)
    assert "../" not in message and message.startswith("x.wav")


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        (None, "upload"),
        ("", "upload"),
        ("..", "upload"),
        ("../../", "upload"),
        ("a/b/c.flac", "c.flac"),
        ("C:\\Users\\me\\talk.wav", "talk.wav"),
        ("bad\nname\r.wav", "badname.wav"),
        ("x" * 300 + ".wav", "x" * 124 + ".wav"),
    ],
)
def test_safe_upload_name(raw: str | None, safe: str) -> None:
    assert safe_upload_name(raw) == safe


def test_unexpected_exception_is_generic_500(fake: FakePredictor, caplog: pytest.LogCaptureFixture) -> None:
    def boom(data: bytes, *, name: str = "<upload>"):
        raise RuntimeError("secret internals /srv/model.bin")

    fake.predict_bytes = boom  # type: ignore[method-assign]
    with TestClient(create_app(fake)) as c:
        r = c.post("/api/predict", files={"file": ("tone.wav", wav_bytes(), "audio/wav")})
    assert r.status_code == 500
    assert r.json() == {"error": "internal server error"}
    assert "secret internals" in caplog.text  # logged, not leaked


def test_failed_prediction_object_is_422_with_to_dict(fake: FakePredictor) -> None:
    failed = FakePrediction("x.wav", None, None, {}, None, "x.wav: model refused")  # type: ignore[arg-type]
    fake.predict_bytes = lambda data, *, name="<upload>": failed  # type: ignore[method-assign]
    with TestClient(create_app(fake)) as c:
        r = c.post("/api/predict", files={"file": ("x.wav", wav_bytes(), "audio/wav")})
    assert r.status_code == 422
    assert r.json() == failed.to_dict()


def test_numpy_values_are_serialised(fake: FakePredictor) -> None:
    real = fake.predict_bytes

    def numpy_valued(data: bytes, *, name: str = "<upload>"):
        p = real(data, name=name)
        return FakePrediction(p.path, p.label, np.float32(p.confidence), {k: np.float64(v) for k, v in p.probabilities.items()})

    fake.predict_bytes = numpy_valued  # type: ignore[method-assign]
    with TestClient(create_app(fake)) as c:
        r = c.post("/api/predict", files={"file": ("x.wav", wav_bytes(), "audio/wav")})
    assert r.status_code == 200
    assert abs(sum(r.json()["probabilities"].values()) - 1) < 1e-4


def test_real_prediction_objects_round_trip(fake: FakePredictor) -> None:
    """The response is exactly serkit.inference.Prediction.to_dict() (tuples, segments, duration)."""
    inference = pytest.importorskip("serkit.inference")
    seg = inference.Segment(0.0, 4.0, "sad", 0.5, {"neutral": 0.2, "happy": 0.1, "sad": 0.5, "angry": 0.2})
    real = inference.Prediction("x.wav", "sad", 0.5, dict(seg.probabilities), (seg,), None, 12.5)
    fake.predict_bytes = lambda data, *, name="<upload>": real  # type: ignore[method-assign]
    with TestClient(create_app(fake)) as c:
        r = c.post("/api/predict", files={"file": ("x.wav", wav_bytes(), "audio/wav")})
    assert r.status_code == 200
    assert r.json() == real.to_dict()


# --------------------------------------------------------------------------- lazy loading
def _install_fake_inference(monkeypatch: pytest.MonkeyPatch, load) -> None:
    module = types.ModuleType("serkit.inference")
    module.Predictor = type("Predictor", (), {"load": staticmethod(load)})
    monkeypatch.setitem(sys.modules, "serkit.inference", module)


def test_lazy_load_once_with_model_path(monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[object] = []

    def load(path=None):
        loads.append(path)
        return FakePredictor()

    _install_fake_inference(monkeypatch, load)
    app = create_app(model_path="bundle.serkit")
    assert loads == []  # nothing loaded at import/creation time
    with TestClient(app) as c:
        assert c.get("/").status_code == 200
        assert loads == []  # the page itself does not need the model
        assert c.get("/api/health").json()["model"] == "fake-model"
        assert c.post("/api/predict", files={"file": ("t.wav", wav_bytes(), "audio/wav")}).status_code == 200
        assert c.get("/api/model").status_code == 200
    assert loads == ["bundle.serkit"]


def test_model_that_cannot_load_is_503(monkeypatch: pytest.MonkeyPatch) -> None:
    def load(path=None):
        raise BundleError(f"{path}: not a serkit model bundle")

    _install_fake_inference(monkeypatch, load)
    with TestClient(create_app(model_path="missing.serkit")) as c:
        assert "missing.serkit" in assert_error(c.get("/api/health"), 503)
        assert_error(c.post("/api/predict", files={"file": ("t.wav", wav_bytes(), "audio/wav")}), 503)


def test_prediction_runs_off_the_event_loop() -> None:
    """A slow prediction must not block other requests (it runs in the threadpool)."""
    import httpx

    class Slow(FakePredictor):
        def predict_bytes(self, data: bytes, *, name: str = "<upload>"):
            time.sleep(0.6)
            return super().predict_bytes(data, name=name)

    app = create_app(Slow())

    async def scenario() -> tuple[float, float]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            t0 = time.perf_counter()

            async def slow() -> float:
                r = await c.post("/api/predict", files={"file": ("t.wav", wav_bytes(), "audio/wav")})
                assert r.status_code == 200
                return time.perf_counter() - t0

            async def quick() -> float:
                await asyncio.sleep(0.1)
                r = await c.get("/api/health")
                assert r.status_code == 200
                return time.perf_counter() - t0

            return tuple(await asyncio.gather(slow(), quick()))  # type: ignore[return-value]

    slow_done, quick_done = asyncio.run(scenario())
    assert quick_done < slow_done
    assert quick_done < 0.5


# --------------------------------------------------------------------------- page and docs
def test_page_has_the_elements(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    html = r.text
    for element_id in PAGE_IDS:
        assert f'id="{element_id}"' in html, element_id
    assert 'data-state="idle"' in html
    assert f'data-max-upload-bytes="{25 * 1024 * 1024}"' in html
    assert "acted" in html and 'id="model-languages"' in html  # the languages come from the model (/api/model)
    assert not EXTERNAL_URL.search(html)  # nothing from a CDN


@pytest.mark.parametrize("asset", ["app.js", "style.css", "recorder-worklet.js"])
def test_static_assets_served(client: TestClient, asset: str) -> None:
    r = client.get(f"/static/{asset}")
    assert r.status_code == 200
    assert not EXTERNAL_URL.search(r.text)


def test_unknown_route_is_json_404(client: TestClient) -> None:
    assert_error(client.get("/api/nope"), 404)


def test_openapi_documents_the_api(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    predict = spec["paths"]["/api/predict"]["post"]
    body = predict["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert body["required"] == ["file"]
    assert {"200", "400", "413", "415", "422", "500"} <= set(predict["responses"])
    assert "PredictionOut" in str(predict["responses"]["200"])
    assert "HealthOut" in str(spec["paths"]["/api/health"]["get"]["responses"]["200"])
    assert client.get("/docs").status_code == 200
