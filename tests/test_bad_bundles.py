"""Damaged bundles, foreign ONNX files, evaluation folders and out-of-range options: one line, exit 2,
nothing written. Each case failed (a traceback, a silent wrong answer, or an overwritten file) before."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from fixtures import real_ravdess_files, write_manifest
from serkit.cli import main
from serkit.evaluation import evaluation_config

FAST = {"features": "spectral_stats", "workers": 1, "jobs": 1, "progress": False}


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _one_line(capsys, code: int, needle: str) -> str:
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert "Traceback" not in err and needle in err, err
    assert len([line for line in err.splitlines() if line.startswith("serkit")]) == 1, err
    return err


@pytest.fixture(scope="module")
def manifest(tmp_path_factory, request) -> Path:
    request.getfixturevalue("shared_data")
    return write_manifest(tmp_path_factory.mktemp("m") / "m.csv", real_ravdess_files(per_class=2))


@pytest.fixture(scope="module")
def bundles(manifest, tmp_path_factory) -> dict[str, Path]:
    """Two exported logreg bundles on the same features (4 classes), and one with 3 classes."""
    from serkit.export import export_onnx
    from serkit.training import train

    root = tmp_path_factory.mktemp("bundles")
    out = {}
    for name, kw in (("a", {}), ("b", {"seed": 1, "models": "logreg[C=0.1]"}),
                     ("three", {"labels": "neutral,happy,sad"})):
        cfg, run = evaluation_config(data=[str(manifest)], **{"models": "logreg", **FAST, **kw})
        out[name] = train(cfg, root / name, run=run, evaluate=False)
        export_onnx(out[name])
    return out


# -- evaluate --output ---------------------------------------------------------------------------------
def test_evaluate_refuses_to_write_into_a_bundle_or_a_users_folder(manifest, bundles, tmp_path, capsys):
    bundle = tmp_path / "bundle"
    shutil.copytree(bundles["a"], bundle)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("my notes")
    for target in (bundle, mine):
        before = _digest(target)
        code = main(["evaluate", "--data", str(manifest), "--features", "spectral_stats", "--output", str(target),
                     "--quiet", "--workers", "1", "--jobs", "1"])
        _one_line(capsys, code, "not an earlier serkit evaluation; refusing to write into it")
        assert _digest(target) == before


def test_evaluate_may_rewrite_its_own_earlier_report_folder(manifest, tmp_path, capsys):
    out = tmp_path / "ev"
    args = ["evaluate", "--data", str(manifest), "--features", "spectral_stats", "--output", str(out), "--quiet",
            "--workers", "1", "--jobs", "1"]
    assert main(args) == 0
    first = json.loads((out / "metrics.json").read_text())
    assert first["kind"] == "serkit-evaluation"
    assert main(args + ["--protocol", "random", "--folds", "2"]) == 0
    assert json.loads((out / "metrics.json").read_text())["protocol"] == "random"


# -- config.json with wrong types ------------------------------------------------------------------------
@pytest.mark.parametrize("edit, needle", [
    (lambda c: c.update(labels=5), "field 'labels' is 5; expected a list of class names"),
    (lambda c: c.update(labels=None), "field 'labels' is None"),
    (lambda c: c["experiment"].update(features=None), "field 'features' must be a list, got None"),
    (lambda c: c["experiment"]["features"][0]["options"].update(n_mfcc="many"), "option n_mfcc must be int"),
    (lambda c: c.update(feature_version=1), "field 'feature_version' is 1; expected a string"),
    (lambda c: c.update(input_shape=[-3]), "field 'input_shape'"),
    (lambda c: c["experiment"].update(normalize="sometimes"), "unknown normalisation 'sometimes'"),
    (lambda c: c.pop("format"), "bundle format 1"),
])
def test_a_config_with_wrong_types_is_one_line_naming_the_field(bundles, tmp_path, capsys, edit, needle):
    bundle = tmp_path / "bundle"
    shutil.copytree(bundles["a"], bundle)
    cfg = json.loads((bundle / "config.json").read_text())
    edit(cfg)
    (bundle / "config.json").write_text(json.dumps(cfg))
    code = main(["predict", str(Path(real_ravdess_files(per_class=1)[0][0])), "--model", str(bundle)])
    _one_line(capsys, code, needle)


# -- ONNX files that do not belong to their bundle ---------------------------------------------------------
@pytest.mark.parametrize("case, needle", [
    ("other_classes", "exported for classes"),
    ("encoder_over_classifier", "not the file `serkit export` wrote"),
    ("same_shape_other_model", "not the file `serkit export` wrote"),
    ("retrained_weights", "exported from other weights"),
    ("no_manifest", "no ONNX export recorded"),
])
def test_onnx_files_are_checked_against_their_bundle(bundles, tmp_path, capsys, case, needle):
    bundle = tmp_path / "bundle"
    shutil.copytree(bundles["a"], bundle)
    if case == "other_classes":
        for f in ("model.onnx", "onnx.json"):
            shutil.copy(bundles["three"] / f, bundle / f)
    elif case == "encoder_over_classifier":
        (bundle / "model.onnx").write_bytes(b"\x08\x07" + b"not this model" * 100)
    elif case == "same_shape_other_model":
        shutil.copy(bundles["b"] / "model.onnx", bundle / "model.onnx")
    elif case == "retrained_weights":
        shutil.copy(bundles["b"] / "model.skops", bundle / "model.skops")
    else:
        (bundle / "onnx.json").unlink()
    clip = str(real_ravdess_files(per_class=1)[0][0])
    _one_line(capsys, main(["predict", clip, "--model", str(bundle), "--backend", "onnx"]), needle)


def test_matching_onnx_files_agree_with_the_native_model(bundles):
    from serkit.inference import Predictor

    clip = str(real_ravdess_files(per_class=1)[0][0])
    native = Predictor.load(bundles["a"], backend="native").predict_file(clip).probabilities
    onnx = Predictor.load(bundles["a"], backend="onnx").predict_file(clip).probabilities
    assert max(abs(native[k] - onnx[k]) for k in native) < 1e-4


# -- numeric options: the range is checked where the option is declared -------------------------------------
@pytest.mark.parametrize("args, needle", [
    (["--folds", "1"], "--folds must be an integer from 2 to 1000, got 1"),
    (["--folds", "1000", "--protocol", "random"], "--folds 1000 is more than the files of the rarest class"),
    (["--epochs", "0"], "--epochs must be an integer from 1 to 10000, got 0"),
    (["--epochs", "-1"], "--epochs must be an integer from 1 to 10000, got -1"),
    (["--augment-copies", "-2", "--augment", "noise"], "--augment-copies must be an integer from 0 to 100"),
    (["--jobs", "0"], "--jobs must be an integer from 1 to 1024, got 0"),
    (["--workers", "0"], "--workers must be an integer from 1 to 1024, got 0"),
    (["--model", "logreg[C=-1]"], "logreg option C must be a number above 0"),
    (["--features", "whisper_encoder[states=7]"], "states must be increasing indices from 0 to 5"),
    (["--protocol", "corpus"], "needs at least 2 --data corpora"),
])
def test_out_of_range_options_are_one_line_and_write_nothing(manifest, tmp_path, capsys, args, needle):
    out = tmp_path / "out"
    base = ["--data", str(manifest), "--features", "spectral_stats", "--quiet"]
    for command in (["evaluate", "--output", str(out)], ["train", "--output", str(out)]):
        _one_line(capsys, main(command + base + args), needle)
        assert not out.exists()


def test_train_with_epochs_zero_never_writes_an_untrained_bundle(manifest, tmp_path, capsys):
    out = tmp_path / "b"
    _one_line(capsys, main(["train", "--data", str(manifest), "--model", "mlp", "--epochs", "0", "--output",
                            str(out), "--no-evaluate", "--quiet"]), "--epochs must be an integer from 1 to 10000")
    assert not out.exists()
