"""Every array a bundle carries (normalization.npz, the fitted model's arrays) is checked for dtype, shape and
finite values when it loads: one line naming the file, the array and the problem, from `serkit predict`,
`serkit serve` and the app alike (#18, item 10). Before, a string or NaN array gave a traceback, a 500, or
silently NaN probabilities."""

from __future__ import annotations

import io
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import uvicorn
from fastapi.testclient import TestClient
from fixtures import real_ravdess_files, write_manifest

from serkit.cli import main
from serkit.evaluation import evaluation_config

FAST = {"features": "spectral_stats", "workers": 1, "jobs": 1, "progress": False}


@pytest.fixture(scope="module")
def corpus_model(tmp_path_factory, request) -> Path:
    """A per-corpus normalised logreg bundle, adapted: its normalization.npz holds pooled and adapted statistics."""
    from serkit.inference import Predictor
    from serkit.training import train

    request.getfixturevalue("shared_data")
    rows = real_ravdess_files(per_class=3)
    root = tmp_path_factory.mktemp("arrays")
    manifest = write_manifest(root / "m.csv", rows)
    cfg, run = evaluation_config(data=[str(manifest)], models="logreg", normalize="corpus", **FAST)
    plain = train(cfg, root / "plain", run=run, evaluate=False)
    return Predictor.load(plain).adapt([p for p, _, _ in rows[:12]]).save_adapted(root / "adapted")


@pytest.fixture(scope="module")
def clip(corpus_model) -> str:
    return str(real_ravdess_files(per_class=1)[0][0])


def _with_stats(model: Path, tmp_path: Path, **changes) -> Path:
    bad = tmp_path / "bad"
    shutil.copytree(model, bad)
    with np.load(bad / "normalization.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays.update(changes)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    (bad / "normalization.npz").write_bytes(buf.getvalue())
    return bad


def _cases(model: Path) -> dict[str, tuple[dict, str]]:
    with np.load(model / "normalization.npz") as z:
        mean = z["adapted_mean"]
    nan = mean.copy()
    nan[3] = np.nan
    return {
        "string": ({"adapted_mean": np.array(["x"] * len(mean))},
                   "array 'adapted_mean' has dtype <U1; expected floating-point values"),
        "nan": ({"adapted_mean": nan}, "array 'adapted_mean' holds NaN or infinite values"),
        "shape": ({"adapted_mean": mean[:-1]},
                  f"array 'adapted_mean' has shape ({len(mean) - 1},); expected ({len(mean)},)"),
        "zero std": ({"pooled_std": np.zeros_like(mean)}, "array 'pooled_std' holds values at or below 0"),
        "string count": ({"pooled_n": np.asarray("12")}, "array 'pooled_n' has dtype <U2; expected integer values"),
    }


def _one_line(capsys, code: int, *needles: str) -> str:
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert "Traceback" not in err and len(err.splitlines()) == 1 and err.startswith("serkit: error: "), err
    for needle in needles:
        assert needle in err, err
    return err


@pytest.mark.parametrize("case", ["string", "nan", "shape", "zero std", "string count"])
def test_predict_refuses_a_bad_normalisation_array_in_one_line(corpus_model, clip, tmp_path, capsys, case):
    changes, needle = _cases(corpus_model)[case]
    bad = _with_stats(corpus_model, tmp_path, **changes)
    code = main(["predict", clip, "--model", str(bad)])
    _one_line(capsys, code, str(bad / "normalization.npz"), needle)


@pytest.mark.parametrize("case", ["string", "nan", "shape"])
def test_serve_refuses_a_bad_normalisation_array_before_binding(corpus_model, tmp_path, capsys, monkeypatch, case):
    configs: list = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: configs.append(self.config))
    changes, needle = _cases(corpus_model)[case]
    bad = _with_stats(corpus_model, tmp_path, **changes)
    code = main(["serve", "--model", str(bad), "--port", "8131"])
    _one_line(capsys, code, "normalization.npz", needle)
    assert configs == []  # never started


def test_the_app_answers_503_and_logs_one_line_for_a_bad_normalisation_array(corpus_model, tmp_path, caplog):
    from serkit.server import create_app

    changes, needle = _cases(corpus_model)["string"]
    bad = _with_stats(corpus_model, tmp_path, **changes)
    with caplog.at_level(logging.ERROR, logger="serkit.server"), TestClient(create_app(model_path=bad)) as c:
        r = c.get("/api/model")
    assert r.status_code == 503 and "could not be loaded" in r.text and str(tmp_path) not in r.text
    logged = [rec.getMessage() for rec in caplog.records if "normalization.npz" in rec.getMessage()]
    assert len(logged) == 1 and needle in logged[0] and "\n" not in logged[0]


def test_a_nan_in_the_fitted_model_is_refused_in_one_line(corpus_model, clip, tmp_path, capsys):
    import skops.io as sio

    bad = tmp_path / "bad"
    shutil.copytree(corpus_model, bad)
    est = sio.load(bad / "model.skops", trusted=sio.get_untrusted_types(file=bad / "model.skops"))
    est.steps[-1][1].coef_[0, 0] = np.nan
    sio.dump(est, bad / "model.skops")
    code = main(["predict", clip, "--model", str(bad), "--backend", "native"])
    _one_line(capsys, code, str(bad / "model.skops"), "array 'logisticregression.coef_' holds NaN or infinite values")


def test_a_fitted_array_of_the_wrong_shape_or_dtype_is_refused_in_one_line(corpus_model, clip, tmp_path, capsys):
    import skops.io as sio

    for attr, value, needle in (
        ("mean_", lambda m: m[:-2], "array 'standardscaler.mean_' has shape"),
        ("scale_", lambda s: np.array(["1"] * len(s)), "array 'standardscaler.scale_' has dtype <U1"),
    ):
        bad = tmp_path / f"bad_{attr}"
        shutil.copytree(corpus_model, bad)
        est = sio.load(bad / "model.skops", trusted=sio.get_untrusted_types(file=bad / "model.skops"))
        scaler = est.steps[0][1]
        setattr(scaler, attr, value(getattr(scaler, attr)))
        sio.dump(est, bad / "model.skops")
        code = main(["predict", clip, "--model", str(bad), "--backend", "native"])
        _one_line(capsys, code, str(bad / "model.skops"), needle)


def test_a_nan_torch_weight_is_refused_in_one_line(tmp_path, capsys, request):
    from safetensors.torch import load_file, save_file

    from serkit.training import train

    request.getfixturevalue("shared_data")
    rows = real_ravdess_files(per_class=2)
    manifest = write_manifest(tmp_path / "m.csv", rows)
    cfg, run = evaluation_config(data=[str(manifest)], models="mlp", epochs=1, **FAST)
    model = train(cfg, tmp_path / "mlp", run=run, evaluate=False)
    state = load_file(str(model / "model.safetensors"))
    name = next(k for k, v in state.items() if v.is_floating_point() and v.numel() > 1)
    state[name].view(-1)[0] = float("inf")
    save_file(state, str(model / "model.safetensors"))
    code = main(["predict", str(rows[0][0]), "--model", str(model), "--backend", "native"])
    _one_line(capsys, code, str(model / "model.safetensors"), f"array {name!r} holds NaN or infinite values")


def test_bundles_written_before_still_load(corpus_model):
    """The checks accept what serkit writes: the shipped default model and a fresh adapted bundle."""
    from serkit.inference import Predictor

    assert Predictor.load().normalizer.pooled is not None
    p = Predictor.load(corpus_model, backend="native")
    assert p.normalizer.adapted is not None and p.bundle.adaptation["files"] == 12
