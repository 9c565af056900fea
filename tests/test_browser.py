"""End to end in a real browser: the page uploads a file and records the (fake) microphone.

Runs headless Chromium (Debian's /usr/bin/chromium, driven by Playwright) against uvicorn
serving ``create_app(predictor)`` on a free local port. Skipped when Chromium or Playwright
is missing, except on CI (``CI=true``) where that is a failure.

``SERKIT_UPDATE_SCREENSHOT=1`` also copies the result screenshot to docs/screenshot.png and the live
view's to docs/live.png.
"""

from __future__ import annotations

import io
import os
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

import fixtures as fx
import soundfile as sf

from serkit import audio
from serkit.server import create_app

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]
RAVDESS = fx.RAVDESS_ROOT
CLIP = RAVDESS / "Actor_01" / "03-01-05-02-01-01-01.flac"
LONG_CLIPS = [CLIP, RAVDESS / "Actor_02" / "03-01-03-02-01-01-02.flac", RAVDESS / "Actor_03" / "03-01-04-02-02-01-03.flac"]
REPO = Path(__file__).resolve().parents[1]
PREDICT_TIMEOUT_MS = 90_000
# Live mode plays this through Chromium's fake microphone: a strongly acted clip, between pauses.
LIVE_CLIP = RAVDESS / "Actor_03" / "03-01-05-02-01-01-03.flac"
LIVE_TIMEOUT_MS = 45_000


def _missing(reason: str):
    """Missing browser tooling: a failure on CI, a skip elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (required on CI)", pytrace=False)
    pytest.skip(reason)


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def predictor():
    """The real bundled default model: the page must show what `serkit predict` says."""
    from serkit.inference import Predictor

    return Predictor.load()


@pytest.fixture(scope="module")
def sync_playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright (Python) is not installed: pip install playwright")
    return sync_playwright


@pytest.fixture(scope="module")
def playwright(sync_playwright):
    """One Playwright per module: a second sync_playwright() in the same thread is refused."""
    if not CHROMIUM.is_file():
        _missing(f"{CHROMIUM} not found: apt-get install chromium chromium-driver")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright):
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()


class _Spy:
    """The predictor as the server sees it, keeping the bytes of every upload it receives."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.uploads: list[bytes] = []

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def predict_bytes(self, data: bytes, **kwargs):
        self.uploads.append(bytes(data))
        return self.inner.predict_bytes(data, **kwargs)


@pytest.fixture(scope="module")
def spy(predictor) -> _Spy:
    return _Spy(predictor)


@pytest.fixture(scope="module")
def base_url(spy):
    with fx.serving(create_app(spy)) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def page(browser, base_url):
    context = browser.new_context(viewport={"width": 1000, "height": 900}, device_scale_factor=1)
    context.grant_permissions(["microphone"], origin=base_url)
    page = context.new_page()
    page_errors: list[str] = []
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))
    page.goto(base_url + "/")
    page.wait_for_selector("body[data-state='idle']")
    try:
        yield page
        assert page_errors == [], f"JavaScript errors on the page: {page_errors}"
    finally:
        context.close()


# --------------------------------------------------------------------------- helpers
def wait_for_result(page) -> None:
    # Selectors, not wait_for_function: the page's CSP forbids the eval that a JS predicate needs.
    page.wait_for_selector("body[data-state='done'], body[data-state='error']", timeout=PREDICT_TIMEOUT_MS)
    state = page.get_attribute("body", "data-state")
    assert state == "done", f"page ended in state {state!r}: {page.inner_text('#error')!r}"


def shown_probabilities(page, where: str = "#probabilities") -> dict[str, str]:
    rows = page.locator(f"{where} li")
    return {rows.nth(i).get_attribute("data-label"): rows.nth(i).inner_text() for i in range(rows.count())}


def save_screenshot(page, tmp_path: Path, name: str, *, publish: bool = False,
                    published_as: str = "screenshot.png") -> Path:
    shot = tmp_path / name
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 0
    if publish and os.environ.get("SERKIT_UPDATE_SCREENSHOT") == "1":
        target = REPO / "docs" / published_as
        target.parent.mkdir(exist_ok=True)
        shutil.copyfile(shot, target)
    return shot


def wav_format(data: bytes) -> tuple[int, int, int]:
    """(channels, sample rate, bits) from a canonical RIFF/WAVE header."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE" and data[12:16] == b"fmt "
    fmt, channels, rate, _, _, bits = struct.unpack("<HHIIHH", data[20:36])
    assert fmt == 1  # PCM
    return channels, rate, bits


# --------------------------------------------------------------------------- tests
@pytest.mark.skipif(not CLIP.is_file(), reason=f"RAVDESS clip {CLIP} not available")
def test_upload_shows_the_prediction(page, predictor, tmp_path: Path) -> None:
    expected = predictor.predict_file(CLIP)
    with page.expect_response(lambda r: r.url.endswith("/api/predict")) as answer:
        page.set_input_files("#file-input", str(CLIP))
    wait_for_result(page)
    api = answer.value.json()

    assert page.inner_text("#result-label").strip() == expected.label == api["label"]
    shown_confidence = float(page.inner_text("#result-confidence").split("%")[0])
    assert abs(shown_confidence - 100 * api["confidence"]) <= 0.5
    assert list(shown_probabilities(page)) == list(api["probabilities"]) == list(predictor.labels)
    assert page.locator(f"#probabilities li.top[data-label='{api['label']}']").count() == 1
    assert api["path"] == CLIP.name
    assert page.is_hidden("#error")
    # The footer shows the model's licence / name from /api/model.
    page.wait_for_selector("#model-name:not(:text-is('loading…'))")
    assert page.inner_text("#model-name") not in {"", "unavailable"}
    assert "non-commercial" in page.inner_text("#model-licence")
    save_screenshot(page, tmp_path, "upload.png")


@pytest.mark.skipif(not all(p.is_file() for p in LONG_CLIPS), reason="RAVDESS clips not available")
def test_long_upload_shows_the_timeline(page, predictor, tmp_path: Path) -> None:
    signal = np.concatenate([audio.load(p) for p in LONG_CLIPS])
    long_wav = tmp_path / "three-actors.wav"
    sf.write(long_wav, signal, audio.SAMPLE_RATE, subtype="PCM_16")

    with page.expect_response(lambda r: r.url.endswith("/api/predict")) as answer:
        page.set_input_files("#file-input", str(long_wav))
    wait_for_result(page)
    api = answer.value.json()

    assert page.inner_text("#result-label").strip() == api["label"]
    segments = api.get("segments") or []
    items = page.locator("#timeline li")
    assert items.count() == len(segments)
    assert page.is_visible("#timeline") == bool(segments)
    for i, seg in enumerate(segments):
        assert items.nth(i).get_attribute("data-label") == seg["label"]
    save_screenshot(page, tmp_path, "timeline.png", publish=True)


def test_record_from_fake_microphone(page, predictor, spy, tmp_path: Path) -> None:
    page.click("#record-button")
    page.wait_for_selector("body[data-state='recording']")
    assert page.is_disabled("#record-button") and page.is_enabled("#stop-button")
    page.wait_for_timeout(2000)
    spy.uploads.clear()
    with page.expect_response(lambda r: r.url.endswith("/api/predict"), timeout=PREDICT_TIMEOUT_MS) as answer:
        page.click("#stop-button")
    wait_for_result(page)
    api = answer.value.json()

    # The page encoded the capture itself: a mono 16-bit PCM WAV at 16 kHz, about 2 s long.
    assert len(spy.uploads) == 1
    wav = spy.uploads[0]
    assert wav_format(wav) == (1, 16_000, 16)
    decoded, rate = sf.read(io.BytesIO(wav), dtype="float32")
    assert rate == 16_000 and 1.5 < decoded.size / rate < 4.0
    assert np.max(np.abs(decoded)) > 0.01  # the fake device's beep, not silence

    label = page.inner_text("#result-label").strip()
    assert label in predictor.labels
    assert label == api["label"] == predictor.predict_bytes(wav, name="again.wav").label
    assert api["path"].startswith("recording-") and api["path"].endswith(".wav")
    save_screenshot(page, tmp_path, "recording.png")


def test_bad_upload_shows_the_error(page, tmp_path: Path) -> None:
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio\n" * 20)
    page.set_input_files("#file-input", str(text))
    page.wait_for_selector("body[data-state='error']")
    message = page.inner_text("#error")
    assert "notes.wav" in message and "audio" in message
    assert page.is_visible("#error")


# --------------------------------------------------------------------------- live mode
@pytest.fixture(scope="module")
def live_wav(tmp_path_factory) -> Path:
    """The clip with a pause before and after, as 16-bit WAV: what the fake microphone plays (in a loop)."""
    if not LIVE_CLIP.is_file():
        if fx.REAL_DATA_SKIPPABLE:
            pytest.skip(f"RAVDESS clip {LIVE_CLIP} not available")
        pytest.fail(f"RAVDESS clip {LIVE_CLIP} not available (required on CI)")
    pause = np.zeros(audio.SAMPLE_RATE // 2, dtype=np.float32)
    signal = np.concatenate([pause, audio.load(LIVE_CLIP), pause, pause, pause])
    path = tmp_path_factory.mktemp("live") / "angry-actor-03.wav"
    sf.write(path, signal, audio.SAMPLE_RATE, subtype="PCM_16")
    return path


@pytest.fixture(scope="module")
def live_browser(playwright, live_wav):
    """Chromium whose fake microphone plays ``live_wav``."""
    args = [*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={live_wav}"]
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=args)
    try:
        yield browser
    finally:
        browser.close()


def strip_labels(page) -> list[str]:
    cells = page.locator("#live-strip .live-cell")
    return [cells.nth(i).get_attribute("data-label") for i in range(cells.count())]


def test_live_mode_shows_the_emotion_while_the_clip_plays(live_browser, base_url, predictor, live_wav,
                                                          tmp_path: Path) -> None:
    expected = predictor.predict_file(live_wav).label  # what `serkit predict` says for the clip
    context = live_browser.new_context(viewport={"width": 1000, "height": 900}, device_scale_factor=1)
    context.grant_permissions(["microphone"], origin=base_url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    try:
        page.goto(base_url + "/")
        page.wait_for_selector("body[data-state='idle']")
        page.click("#live-start")
        page.wait_for_selector("body[data-state='live']", timeout=LIVE_TIMEOUT_MS)
        assert page.is_visible("#live") and page.is_disabled("#record-button") and page.is_enabled("#live-stop")
        assert sockets == [base_url.replace("http://", "ws://") + "/api/stream"]

        # The label the page shows while the clip plays is the clip's offline label (updates arrive every half
        # second, so each check is one selector: what it matches holds at one moment) ...
        page.wait_for_selector(f"#live-label[data-label='{expected}']:text-is('{expected}')", timeout=LIVE_TIMEOUT_MS)
        page.wait_for_selector(f"#live-probabilities li.top[data-label='{expected}']", timeout=1000)
        assert list(shown_probabilities(page, "#live-probabilities")) == predictor.labels
        # ... and the strip grows while it plays, with silence between the repetitions.
        grown_from = int(page.get_attribute("#live-strip", "data-hops"))
        page.wait_for_timeout(2500)
        grown_to = int(page.get_attribute("#live-strip", "data-hops"))
        assert grown_to >= grown_from + 3
        labels = strip_labels(page)
        assert min(grown_to, 60) <= len(labels) <= min(int(page.get_attribute("#live-strip", "data-hops")), 60)
        assert "silence" in labels
        emotions = [label for label in labels if label in predictor.labels]
        assert emotions and emotions.count(expected) > len(emotions) / 2, labels
        page.wait_for_selector(f"#live-label[data-label='{expected}']", timeout=LIVE_TIMEOUT_MS)  # the next loop
        save_screenshot(page, tmp_path, "live.png", publish=True, published_as="live.png")

        # Stop: the summary timeline of the whole stream.
        page.click("#live-stop")
        page.wait_for_selector("body[data-state='done'], body[data-state='error']", timeout=PREDICT_TIMEOUT_MS)
        assert page.get_attribute("body", "data-state") == "done", page.inner_text("#error")
        assert page.is_visible("#result") and page.is_visible("#timeline")
        assert page.locator("#timeline li").count() >= 1
        assert page.inner_text("#result-source").startswith("Live: ")
        assert page.inner_text("#result-label").strip() in predictor.labels
        assert page.is_enabled("#live-start") and page.is_disabled("#live-stop")
        assert errors == [], f"JavaScript errors on the page: {errors}"
    finally:
        context.close()
