"""Model bundles from real training runs: layout, card, loading safely, prediction and ONNX parity."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import fixtures as fx
from serkit import cli
from serkit.bundle import load_bundle
from serkit.errors import BundleError
from serkit.evaluation import evaluation_config
from serkit.features import FEATURE_VERSION
from serkit.inference import Predictor
from serkit.models.families import SKOPS_ALLOWED
from serkit.training import train

ACTORS = (1, 2, 3, 4)
EMOTIONS = ("neutral", "happy", "sad", "angry")
LABELS = sorted(EMOTIONS)  # the model's output order: its sorted classes
# Real clips of actors the models never saw.
UNSEEN = [
    fx.RAVDESS_ROOT / "Actor_05/03-01-05-02-01-01-05.flac",
    fx.RAVDESS_ROOT / "Actor_06/03-01-03-01-02-01-06.flac",
    fx.RAVDESS_ROOT / "Actor_07/03-01-01-01-01-02-07.flac",
]


@pytest.fixture(scope="module")
def bundles(tmp_path_factory, shared_data) -> dict[str, Path]:
    """A logreg and a 2-epoch mlp bundle, evaluated then trained on 48 real RAVDESS files of 4 actors."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    base = tmp_path_factory.mktemp("bundles")
    # RAVDESS names (symlinks to the real files): the ravdess reader applies, with speakers and licence
    data = fx.link_ravdess_tree(base / "ravdess", fx.real_ravdess_files(ACTORS, EMOTIONS, per_class=3))
    cache = base / "cache"  # module scope: the per-test cache fixture does not reach here
    out = {}
    for model in ("logreg", "mlp"):
        config, run = evaluation_config(data=[str(data)], models=model, epochs=2, jobs=1, workers=1,
                                        cache_dir=str(cache), progress=False)
        out[model] = train(config, base / model, run=run)
    torch.set_num_threads(threads)
    return out


def copy_bundle(bundles, model: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(bundles[model], tmp_path / model))


# --------------------------------------------------------------------------- layout and card


@pytest.mark.slow
@pytest.mark.parametrize("model,weights,other", [("logreg", "model.skops", "model.safetensors"),
                                                  ("mlp", "model.safetensors", "model.skops")])
def test_training_writes_a_complete_bundle(bundles, model, weights, other):
    b = bundles[model]
    names = {p.name for p in b.iterdir()}
    assert {"config.json", "labels.json", weights, "metrics.json", "card.md"} <= names
    assert other not in names
    assert (b / weights).stat().st_size > 0
    config = json.loads((b / "config.json").read_text())
    assert config["format"] == 2
    assert [m["name"] for m in config["experiment"]["models"]] == [model]
    assert config["feature_version"] == FEATURE_VERSION
    assert config["corpora"] == ["ravdess"]
    assert config["n_files"] == len(ACTORS) * len(EMOTIONS) * 3
    assert [f["name"] for f in config["experiment"]["features"]] == ["spectral_stats"]
    assert json.loads((b / "labels.json").read_text()) == LABELS
    metrics = json.loads((b / "metrics.json").read_text())
    assert metrics["protocol"] == "speaker"
    assert len(metrics["per_fold"]["ua"]) == len(ACTORS)  # leave-one-speaker-out
    assert 0.0 <= metrics["ua"] <= 1.0
    card = (b / "card.md").read_text()
    assert "speaker-independent" in card
    assert f"UA (unweighted accuracy) | {metrics['ua']:.1%}" in card
    assert "CC BY-NC-SA" in card
    assert "Not for commercial use" in card
    assert not list(b.parent.glob(f".{model}.tmp-*"))  # nothing half-written left behind


@pytest.mark.slow
@pytest.mark.parametrize("model", ["logreg", "mlp"])
def test_predictor_answers_for_a_real_clip(bundles, model):
    p = Predictor.load(bundles[model])
    assert p.labels == LABELS
    r = p.predict_file(UNSEEN[0])
    assert r.ok and r.path == str(UNSEEN[0])
    assert r.label in LABELS
    assert sorted(r.probabilities) == LABELS
    assert sum(r.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert r.confidence == pytest.approx(max(r.probabilities.values()))
    assert r.probabilities[r.label] == r.confidence


# --------------------------------------------------------------------------- refusing bad bundles


@pytest.mark.slow
def test_other_feature_version_is_refused_naming_both(bundles, tmp_path):
    b = copy_bundle(bundles, "logreg", tmp_path)
    config = json.loads((b / "config.json").read_text())
    config["feature_version"] = "0-older"
    (b / "config.json").write_text(json.dumps(config))
    with pytest.raises(BundleError) as err:
        load_bundle(b)
    assert "'0-older'" in str(err.value) and repr(FEATURE_VERSION) in str(err.value)
    with pytest.raises(BundleError):
        Predictor.load(b)


@pytest.mark.slow
def test_skops_type_outside_the_allow_list_is_refused(bundles, tmp_path):
    import skops.io as sio
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    b = copy_bundle(bundles, "logreg", tmp_path)
    rng = np.random.default_rng(0)
    knn = make_pipeline(StandardScaler(), KNeighborsClassifier(3, algorithm="brute"))
    knn.fit(rng.normal(size=(20, 4)), np.asarray(LABELS * 5, dtype=object))
    assert not [t for t in sio.get_untrusted_types(data=sio.dumps(knn)) if "KNeighbors" in t]  # skops trusts it
    sio.dump(knn, b / "model.skops")
    assert "sklearn.neighbors._classification.KNeighborsClassifier" not in SKOPS_ALLOWED
    with pytest.raises(BundleError) as err:
        load_bundle(b)
    assert "sklearn.neighbors._classification.KNeighborsClassifier" in str(err.value)
    assert "allow-list" in str(err.value)


@pytest.mark.slow
@pytest.mark.parametrize("model,weights", [("logreg", "model.skops"), ("mlp", "model.safetensors")])
@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_corrupt_model_file_is_a_bundle_error(bundles, tmp_path, model, weights, damage):
    b = copy_bundle(bundles, model, tmp_path)
    f = b / weights
    data = f.read_bytes()
    f.write_bytes({"truncated": data[: len(data) // 2], "garbage": b"\x00not a model\xff" * 50, "empty": b""}[damage])
    with pytest.raises(BundleError) as err:
        load_bundle(b)
    assert weights in str(err.value)


def test_missing_bundle_is_a_bundle_error(tmp_path):
    with pytest.raises(BundleError, match="not found"):
        load_bundle(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BundleError, match="config.json missing"):
        load_bundle(tmp_path / "empty")


# --------------------------------------------------------------------------- ONNX


@pytest.mark.slow
@pytest.mark.parametrize("model", ["logreg", "mlp"])
def test_onnx_export_predicts_like_the_native_model(bundles, tmp_path, capsys, model):
    b = copy_bundle(bundles, model, tmp_path)
    assert cli.main(["export", str(b), "--format", "onnx"]) == 0
    assert "ONNX model written to" in capsys.readouterr().out
    assert (b / "model.onnx").stat().st_size > 0
    native = Predictor.load(b, backend="native")  # "auto" now picks the ONNX files once exported
    onnx = Predictor.load(b, backend="onnx")
    assert onnx._onnx is not None and native._onnx is None
    assert Predictor.load(b)._onnx is not None
    for clip in UNSEEN:
        a, o = native.predict_file(clip), onnx.predict_file(clip)
        assert o.label == a.label
        for c in LABELS:
            assert o.probabilities[c] == pytest.approx(a.probabilities[c], abs=1e-4)


@pytest.mark.slow
def test_onnx_backend_without_export_is_a_bundle_error(bundles, tmp_path):
    b = copy_bundle(bundles, "logreg", tmp_path)
    with pytest.raises(BundleError, match="serkit export"):
        Predictor.load(b, backend="onnx")
