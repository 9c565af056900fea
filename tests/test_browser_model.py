"""The page says which data the model was trained on and what it was adapted on (headless Chromium)."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from fixtures import real_savee_files
from serkit.server import create_app
from test_browser import browser, playwright, sync_playwright  # noqa: F401  (the shared Chromium fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def adapted(shared_data, tmp_path_factory):
    from serkit.inference import Predictor

    files = [str(p) for p, _, _ in real_savee_files(speakers=("KL",), per_class=2)]  # 10 files, no labels used
    folder = Predictor.load().adapt(files).save_adapted(tmp_path_factory.mktemp("m") / "adapted")
    return Predictor.load(folder)


def _serve(predictor):
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(predictor), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    return server, thread, sock, f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_the_page_shows_training_data_and_adaptation(browser, adapted):  # noqa: F811
    server, thread, sock, url = _serve(adapted)
    try:
        page = browser.new_page()
        page.goto(url + "/")
        page.wait_for_selector("#model-adaptation:has-text('adapted without labels')")
        assert page.inner_text("#model-adaptation").startswith("adapted without labels on 10 recordings")
        assert page.inner_text("#model-corpora") == "ravdess, savee, nemo"
        assert "English, Polish" in page.inner_text("#model-languages")
        assert "leave-one-corpus-out" in page.inner_text("#model-metrics")
        page.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
