"""What the server shows and to whom: Host names, cross-origin posts, server paths; and `serkit serve` itself.

`serkit serve` is run through the real entry point (``serkit.cli.main``) with uvicorn's
``Server.run`` replaced by a recorder, so the app and configuration it would serve are checked
without binding a port.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient

from fixtures import garbage_bundle
from serkit import cli
from serkit.errors import BundleError, SerkitError
from serkit.server import ServerSettings, create_app
from test_server import FakePredictor, assert_error, wav_bytes
from test_server_limits import asgi_call, multipart

LOOPBACK = ("localhost", "127.0.0.1", "::1")


def post(c: TestClient, **kwargs):
    return c.post("/api/predict", files={"file": ("t.wav", wav_bytes(), "audio/wav")}, **kwargs)


# --------------------------------------------------------------------------- Host names (DNS rebinding)
@pytest.mark.parametrize(
    ("base_url", "ok"),
    [
        ("http://localhost:8000", True),
        ("http://127.0.0.1:8000", True),
        ("http://[::1]:8000", True),
        ("http://LOCALHOST.", True),
        ("http://evil.example:8000", False),  # a rebinding page: its own name, our address
        ("http://127.0.0.1.evil.example", False),
    ],
)
def test_only_configured_host_names_are_served(base_url: str, ok: bool) -> None:
    fake = FakePredictor()
    with TestClient(create_app(fake, allowed_hosts=LOOPBACK), base_url=base_url) as c:
        for r in (c.get("/api/health"), post(c), c.get("/")):
            if ok:
                assert r.status_code == 200, r.text
            else:
                assert "--allowed-hosts" in assert_error(r, 400)
    assert fake.calls == (1 if ok else 0)


def test_sub_domain_pattern_and_any_host() -> None:
    fake = FakePredictor()
    with TestClient(create_app(fake, allowed_hosts=("*.example.org",)), base_url="http://api.example.org") as c:
        assert c.get("/api/health").status_code == 200
    with TestClient(create_app(fake, allowed_hosts=("*.example.org",)), base_url="http://example.org.evil.com") as c:
        assert_error(c.get("/api/health"), 400)
    with TestClient(create_app(fake, allowed_hosts=("*",)), base_url="http://anything.example") as c:
        assert c.get("/api/health").status_code == 200


# --------------------------------------------------------------------------- cross-origin requests
@pytest.mark.parametrize("origin", ["http://evil.example", "http://testserver:8080", "https://testserver.evil", "null"])
def test_cross_origin_post_is_refused_unprocessed(origin: str) -> None:
    fake = FakePredictor()
    with TestClient(create_app(fake)) as c:
        message = assert_error(post(c, headers={"Origin": origin}), 403)
    assert "cross-origin" in message and fake.calls == 0


def test_cross_origin_post_is_refused_before_its_body_is_read() -> None:
    status, _, _, read = asyncio.run(asyncio.wait_for(
        asgi_call(create_app(FakePredictor()), [multipart(wav_bytes())], stall=True,
                  headers=[(b"origin", b"http://evil.example")]), 5))
    assert status == 403 and read == 0


@pytest.mark.parametrize("origin", ["http://testserver", "https://testserver", "http://TESTSERVER:80"])
def test_same_origin_post_and_origin_less_post_pass(origin: str) -> None:
    fake = FakePredictor()
    with TestClient(create_app(fake)) as c:
        assert post(c, headers={"Origin": origin}).status_code == 200
        assert post(c).status_code == 200  # curl, scripts: no Origin header
    assert fake.calls == 2


def test_cross_origin_reads_get_no_cors_grant() -> None:
    with TestClient(create_app(FakePredictor())) as c:
        r = c.get("/api/model", headers={"Origin": "http://evil.example"})
    assert r.status_code == 200  # the browser withholds the body from the other page:
    assert "access-control-allow-origin" not in r.headers


def test_allowed_origin_may_post_with_cors_headers() -> None:
    fake = FakePredictor()
    app = create_app(fake, allowed_origins=("https://app.example.org",))
    with TestClient(app) as c:
        r = post(c, headers={"Origin": "https://app.example.org"})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://app.example.org"
        pre = c.options("/api/predict", headers={"Origin": "https://app.example.org",
                                                 "Access-Control-Request-Method": "POST"})
        assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == "https://app.example.org"
        assert_error(post(c, headers={"Origin": "https://other.example.org"}), 403)
    assert fake.calls == 1


# --------------------------------------------------------------------------- no server paths
def test_model_card_shows_the_folder_name_not_the_server_path(tmp_path: Path) -> None:
    secret = tmp_path / "srv" / "secret-place" / "my-model"

    class Described(FakePredictor):
        def describe(self) -> dict:
            return {**super().describe(), "path": str(secret)}

    with TestClient(create_app(Described())) as c:
        r = c.get("/api/model")
    assert r.status_code == 200
    assert r.json()["path"] == "my-model"
    assert "secret-place" not in r.text and str(tmp_path) not in r.text


def test_model_that_cannot_load_is_named_without_its_path(monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    import serkit.inference

    def load(cls, path=None, **kwargs):
        raise BundleError(f"{path}: not a serkit model bundle")

    monkeypatch.setattr(serkit.inference.Predictor, "load", classmethod(load))
    with TestClient(create_app(model_path="/srv/secret-place/my-model")) as c:
        message = assert_error(c.get("/api/health"), 503)
    assert "my-model" in message and "secret-place" not in message
    assert "/srv/secret-place/my-model: not a serkit model bundle" in caplog.text  # the reason is in the log


# --------------------------------------------------------------------------- serkit serve
class Served(FakePredictor):
    """A predictor for `serve` (load_for_serving predicts once on a signal before binding)."""

    def predict_signal(self, signal, sample_rate: int = 16_000, *, name=None, segment=None):
        return self._predict(signal, name or "<signal>")  # counted in calls


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[uvicorn.Config]:
    """uvicorn.Server.run records its configuration instead of binding a port."""
    configs: list[uvicorn.Config] = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: configs.append(self.config))
    return configs


def serve_with(monkeypatch: pytest.MonkeyPatch, predictor) -> None:
    import serkit.inference

    monkeypatch.setattr(serkit.inference.Predictor, "load", classmethod(lambda cls, path=None, **kw: predictor))


def test_serve_defaults(monkeypatch, recorded, capsys) -> None:
    import os

    predictor = Served()
    serve_with(monkeypatch, predictor)
    assert cli.main(["serve", "--port", "8123"]) == 0
    (config,) = recorded
    assert (config.host, config.port, config.timeout_keep_alive) == ("127.0.0.1", 8123, 5.0)
    assert predictor.calls == 1  # the warm-up prediction, before binding
    settings: ServerSettings = config.app.state.settings
    assert settings.max_concurrent == len(os.sched_getaffinity(0))
    assert settings.allowed_hosts == ("127.0.0.1", *LOOPBACK[:1], "::1")
    with TestClient(config.app, base_url="http://127.0.0.1:8123") as c:
        assert c.get("/api/health").status_code == 200
    with TestClient(config.app, base_url="http://rebound.evil.example:8123") as c:
        assert_error(c.get("/api/health"), 400)


def test_serve_options_reach_the_app(monkeypatch, recorded) -> None:
    serve_with(monkeypatch, Served())
    assert cli.main(["serve", "--host", "0.0.0.0", "--port", "9000", "--max-concurrent", "3", "--read-timeout", "2",
                     "--upload-timeout", "9.5", "--keep-alive-timeout", "1", "--max-upload-mb", "4",
                     "--allowed-hosts", "ser.example.org,10.0.0.5", "--allowed-origins", "https://app.example.org"]) == 0
    (config,) = recorded
    s = config.app.state.settings
    assert (s.max_concurrent, s.read_timeout, s.upload_timeout, s.keep_alive_timeout, s.max_upload_mb) == (3, 2, 9.5, 1, 4)
    assert s.allowed_hosts == ("ser.example.org", "10.0.0.5") and s.allowed_origins == ("https://app.example.org",)
    assert (config.host, config.port, config.timeout_keep_alive) == ("0.0.0.0", 9000, 1.0)
    with TestClient(config.app, base_url="http://ser.example.org:9000") as c:
        assert c.get("/api/health").json()["max_concurrent"] == 3


@pytest.mark.parametrize("kind", ["garbage", "missing"])
def test_serve_with_a_broken_model_exits_2_before_binding(tmp_path, recorded, capsys, kind: str) -> None:
    model = garbage_bundle(tmp_path) if kind == "garbage" else tmp_path / "no_model"
    assert cli.main(["serve", "--model", str(model), "--port", "8124"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("serkit: error: ") and str(model) in err
    assert recorded == []  # uvicorn never started


@pytest.mark.parametrize(
    "failure", [SerkitError("this model normalises features per speaker"), RuntimeError("weights missing\nmore")]
)
def test_serve_with_a_model_that_cannot_predict_exits_2(monkeypatch, recorded, capsys, failure: Exception) -> None:
    class Refuses(Served):
        def predict_signal(self, signal, sample_rate: int = 16_000, *, name=None, segment=None):
            raise failure

    serve_with(monkeypatch, Refuses())
    assert cli.main(["serve", "--port", "8125"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "cannot predict" in err
    assert str(failure).splitlines()[0] in err
    assert recorded == []


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--port", "99999"], "--port: must be an integer from 1 to 65535, got '99999'"),
        (["--port", "0"], "--port: must be an integer from 1 to 65535, got '0'"),
        (["--port", "http"], "--port: must be an integer from 1 to 65535, got 'http'"),
        (["--max-upload-mb", "0"], "--max-upload-mb: must be a number above 0 to 256, got '0'"),
        (["--max-upload-mb", "nan"], "--max-upload-mb: must be a number above 0 to 256, got 'nan'"),
        (["--max-upload-mb", "1e9"], "--max-upload-mb: must be a number above 0 to 256, got '1e9'"),
        (["--max-concurrent", "0"], "--max-concurrent: must be an integer from 1 to 1024, got '0'"),
        (["--max-concurrent", "1.5"], "--max-concurrent: must be an integer from 1 to 1024, got '1.5'"),
        (["--read-timeout", "0"], "--read-timeout: must be a number above 0 to 3600, got '0'"),
        (["--upload-timeout", "-5"], "--upload-timeout: must be a number above 0 to 3600, got '-5'"),
        (["--keep-alive-timeout", "inf"], "--keep-alive-timeout: must be a number above 0 to 3600, got 'inf'"),
        (["--allowed-hosts", "http://x.org/"], "--allowed-hosts: allowed host 'http://x.org/'"),
        (["--allowed-hosts", ","], "--allowed-hosts: allowed hosts: the list is empty"),
        (["--allowed-origins", "app.example.org"], "--allowed-origins: allowed origin 'app.example.org'"),
    ],
)
def test_serve_options_are_range_checked_with_one_error_line(recorded, capsys, args: list[str], says: str) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["serve", *args])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if "error" in line]
    assert errors == [errors[0]] and errors[0].startswith("serkit serve: error: argument ")
    assert says in errors[0]
    assert recorded == []


def test_the_cli_parser_does_not_import_the_web_stack() -> None:
    """`serkit --help` and option errors stay fast: the serve options' ranges live outside FastAPI."""
    import subprocess
    import sys

    code = "import sys; from serkit import cli; cli.build_parser(); print('fastapi' in sys.modules, 'uvicorn' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "False"]
