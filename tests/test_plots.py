"""`serkit plot distribution|audio|confusion`: each writes a real PNG and exits 0; bad input is one line, exit 2."""

from __future__ import annotations

import struct
from pathlib import Path

import pandas as pd
import pytest

import fixtures as fx
from serkit.cli import EXIT_ERROR, EXIT_OK, main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CLIP = fx.RAVDESS_ROOT / "Actor_02" / "03-01-05-02-01-01-02.flac"


def check_png(path: Path, *, min_bytes: int = 5_000) -> tuple[int, int]:
    """Signature, IHDR chunk, a plausible size, and that matplotlib can decode it; returns (width, height)."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width > 100 and height > 100
    assert data[-12:] == b"\x00\x00\x00\x00IEND\xaeB`\x82"  # complete, not cut off
    assert len(data) > min_bytes
    import matplotlib.image

    pixels = matplotlib.image.imread(str(path))
    assert pixels.shape[:2] == (height, width)
    assert pixels.std() > 0.01, "a blank image"
    return width, height


def run(capsys, argv: list[str]) -> tuple[int, str, str]:
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def test_plot_distribution_of_a_synthetic_corpus(capsys, tmp_path):
    root = fx.make_emodb(tmp_path / "emodb")
    png = tmp_path / "out" / "dist.png"
    rc, out, err = run(capsys, ["plot", "distribution", str(root), "--output", str(png)])
    assert rc == EXIT_OK, err
    assert f"wrote {png}" in out
    w, _ = check_png(png)
    # One bar per emotion: a corpus with fewer classes gives a narrower chart (width follows the count).
    small = fx.make_emodb(tmp_path / "small")
    for f in sorted((small / "wav").iterdir())[2:]:
        f.unlink()
    png2 = tmp_path / "small.png"
    assert main(["plot", "distribution", str(small), "--output", str(png2)]) == EXIT_OK
    w2, _ = check_png(png2)
    assert w2 < w


def test_plot_audio_of_a_real_clip(capsys, tmp_path, shared_data):
    png = tmp_path / "audio.png"
    rc, out, err = run(capsys, ["plot", "audio", str(CLIP), "--output", str(png)])
    assert rc == EXIT_OK, err
    assert f"wrote {png}" in out
    _, h = check_png(png, min_bytes=50_000)  # waveform + two spectrograms
    assert h > 500  # three stacked panels


@pytest.fixture(scope="module")
def evaluation_folder(tmp_path_factory) -> Path:
    from serkit.evaluation import evaluate, evaluation_config

    root = tmp_path_factory.mktemp("eval")
    csv_path = fx.make_speaker_manifest(root / "data", speakers=4, per_class=1)
    out = root / "report"
    config, run_options = evaluation_config(data=[str(csv_path)], models="logreg", features="spectral_stats",
                                            jobs=1, workers=1, progress=False, cache_dir=str(root / "cache"))
    evaluate(config, run=run_options, output=out)
    return out


def test_plot_confusion_of_an_evaluation_folder(capsys, tmp_path, evaluation_folder):
    predictions = pd.read_csv(evaluation_folder / "predictions.csv")
    assert len(predictions) == 4 * 3 and set(predictions["true"]) == {"happy", "sad", "angry"}
    png = tmp_path / "cm.png"
    rc, out, err = run(capsys, ["plot", "confusion", str(evaluation_folder), "--output", str(png)])
    assert rc == EXIT_OK, err
    assert f"wrote {png}" in out
    check_png(png)
    # The predictions.csv itself works too.
    png2 = tmp_path / "cm2.png"
    assert main(["plot", "confusion", str(evaluation_folder / "predictions.csv"), "--output", str(png2)]) == EXIT_OK
    check_png(png2)


def test_plot_confusion_without_predictions_is_one_line_exit_2(capsys, tmp_path):
    empty = tmp_path / "not_an_evaluation"
    empty.mkdir()
    png = tmp_path / "cm.png"
    rc, out, err = run(capsys, ["plot", "confusion", str(empty), "--output", str(png)])
    assert rc == EXIT_ERROR == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("serkit: error: ")
    assert "predictions.csv" in lines[0]
    assert "Traceback" not in err and out == ""
    assert not png.exists()
    # A CSV that is not an evaluation's predictions is one line too.
    bogus = tmp_path / "predictions.csv"
    bogus.write_text("a,b\n1,2\n")
    rc, out, err = run(capsys, ["plot", "confusion", str(bogus), "--output", str(png)])
    assert rc == EXIT_ERROR
    assert len(err.strip().splitlines()) == 1 and err.startswith("serkit: error: ")
    assert not png.exists()
