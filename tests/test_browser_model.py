"""The page says which data the model was trained on and what it was adapted on (headless Chromium)."""

from __future__ import annotations

import pytest

from fixtures import real_savee_files, serving
from serkit.server import create_app
from test_browser import browser, playwright, sync_playwright  # noqa: F401  (the shared Chromium fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def adapted(shared_data, tmp_path_factory):
    from serkit.inference import Predictor

    files = [str(p) for p, _, _ in real_savee_files(speakers=("KL",), per_class=2)]  # 10 files, no labels used
    folder = Predictor.load().adapt(files).save_adapted(tmp_path_factory.mktemp("m") / "adapted")
    return Predictor.load(folder)


def test_the_page_shows_training_data_and_adaptation(browser, adapted):  # noqa: F811
    with serving(create_app(adapted)) as port:
        url = f"http://127.0.0.1:{port}"
        page = browser.new_page()
        page.goto(url + "/")
        page.wait_for_selector("#model-adaptation:has-text('adapted without labels')")
        assert page.inner_text("#model-adaptation").startswith("adapted without labels on 10 recordings")
        assert page.inner_text("#model-corpora") == "ravdess, savee, nemo"
        assert "English, Polish" in page.inner_text("#model-languages")
        assert "leave-one-corpus-out" in page.inner_text("#model-metrics")
        page.close()
