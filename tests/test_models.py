"""Model registry, the torch architectures and TorchClassifier's scikit-learn contract."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from serkit.errors import UnknownNameError
from serkit.experiment import ExperimentConfig
from serkit.models import MODELS, build_model, get_model_spec
from serkit.models.neural import TorchClassifier
from serkit.models.nets import build, count_parameters

CLASSES = ["angry", "happy", "sad"]



@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Two cores shared with other work: torch's default thread pool only adds contention here."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# X shape per model input kind: (features...) of one example
INPUT_SHAPES = {"vector": (40,), "matrix": (25, 216), "states": (6, 768)}


def separable(shape: tuple[int, ...], *, n_per_class: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three classes whose examples differ by a large class-specific offset on every feature."""
    rng = np.random.default_rng(seed)
    X, y = [], []
    for k, c in enumerate(CLASSES):
        X.append(rng.normal(0.0, 1.0, (n_per_class, *shape)) + 6.0 * k)
        y += [c] * n_per_class
    order = rng.permutation(len(y))
    return np.concatenate(X).astype(np.float32)[order], np.asarray(y, dtype=object)[order]


# --------------------------------------------------------------------------- architectures


def test_cnn_mfcc_parameter_count_matches_the_seed():
    trainable, running = count_parameters(build("cnn_mfcc", (25, 216), 8))
    assert trainable == 55_656
    assert running == 384
    assert trainable + running == 56_040


def test_count_parameters_counts_batchnorm_running_stats_only_for_batchnorm_models():
    # plain MLP: no BatchNorm; mlp_bn: 3 BatchNorm1d(50) layers -> 3 x (50 + 50) running values
    assert count_parameters(build("mlp", (10,), 3))[1] == 0
    assert count_parameters(build("mlp_bn", (10,), 3))[1] == 300


# --------------------------------------------------------------------------- every registered model


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_fits_and_predicts_probabilities(name):
    spec = get_model_spec(name)
    assert spec.family.name in ("sklearn", "torch")
    # LightGBM needs 20 examples per leaf by default: 30 per class lets it split
    X, y = separable(INPUT_SHAPES[spec.input], n_per_class=30 if spec.family.name == "sklearn" else 8)
    params = {"epochs": 2} if spec.family.name == "torch" else {}
    model = build_model(name, random_state=0, **params)
    fitted = model.fit(X, y)
    assert fitted is model
    assert list(model.classes_) == CLASSES
    proba = model.predict_proba(X)
    assert proba.shape == (len(X), len(CLASSES))
    assert np.all(proba >= 0)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    pred = model.predict(X)
    assert set(pred) <= set(CLASSES)
    if spec.family.name == "sklearn":  # fully trained: a separable problem is learned
        assert np.mean(pred == y) >= 0.9


def test_registry_rejects_unknown_names_listing_the_choices():
    with pytest.raises(UnknownNameError) as err:
        ExperimentConfig(data=["x"], models="logreg,transformer9000")
    assert "transformer9000" in str(err.value)
    for name in MODELS:
        assert name in str(err.value)


# --------------------------------------------------------------------------- scikit-learn contract


def test_torch_classifier_get_set_params_and_clone():
    clf = TorchClassifier("mlp_bn", epochs=3, lr=0.01, patience=2, random_state=7)
    params = clf.get_params()
    assert params["arch"] == "mlp_bn"
    assert params["epochs"] == 3 and params["lr"] == 0.01 and params["patience"] == 2 and params["random_state"] == 7
    assert clf.set_params(epochs=5, batch_size=16) is clf
    assert clf.epochs == 5 and clf.batch_size == 16
    twin = clone(clf)
    assert twin is not clf
    assert twin.get_params() == clf.get_params()
    assert not hasattr(twin, "model_")


def test_torch_classifier_fit_returns_self_and_clone_is_unfitted():
    X, y = separable((20,))
    clf = TorchClassifier("mlp", epochs=2)
    assert clf.fit(X, y) is clf
    assert hasattr(clf, "model_") and clf.n_epochs_ <= 2
    assert not hasattr(clone(clf), "model_")


# --------------------------------------------------------------------------- no leakage inside fit


def speaker_data(n_speakers: int = 10, per_speaker: int = 9, d: int = 8, seed: int = 1):
    rng = np.random.default_rng(seed)
    groups = np.repeat([f"spk{i:02d}" for i in range(n_speakers)], per_speaker)
    y = np.asarray(CLASSES * (len(groups) // len(CLASSES)), dtype=object)
    X = rng.normal(0.0, 1.0, (len(groups), d)).astype(np.float32)
    return X, y, groups


def test_validation_split_holds_out_whole_speakers():
    X, y, groups = speaker_data()
    for seed in range(5):
        train, val = TorchClassifier("mlp", random_state=seed)._split(y, groups)
        assert len(val) > 0 and len(train) > 0
        assert sorted(np.concatenate([train, val]).tolist()) == list(range(len(y)))
        assert set(groups[train]).isdisjoint(groups[val])


def test_normalisation_statistics_come_from_the_training_part_only():
    X, y, groups = speaker_data()
    clf = TorchClassifier("mlp", epochs=1, random_state=3)
    train, val = clf._split(y, groups)
    assert len(val)
    X = X.copy()
    X[val] += 1e6  # validation speakers are wildly off: any leak shows in the stored mean
    clf.fit(X, y, groups=groups)
    mean = clf.model_.norm.mean.numpy()
    std = clf.model_.norm.std.numpy()
    np.testing.assert_allclose(mean, X[train].mean(axis=0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(std, X[train].std(axis=0) + 1e-6, rtol=1e-4, atol=1e-4)
    assert np.all(np.abs(mean) < 10)


def test_cnn_mfcc_normalises_each_coefficient_over_frames_of_the_training_part():
    rng = np.random.default_rng(2)
    X = rng.normal(0.0, 1.0, (12, 25, 216)).astype(np.float32) + np.arange(25, dtype=np.float32)[None, :, None] * 10
    y = np.asarray(CLASSES * 4, dtype=object)
    clf = TorchClassifier("cnn_mfcc", epochs=1, validation_fraction=0.0).fit(X, y)
    mean = clf.model_.norm.mean.numpy()
    assert mean.shape == (25, 1)
    np.testing.assert_allclose(mean[:, 0], X.mean(axis=(0, 2)), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(clf.model_.norm.std.numpy()[:, 0], X.std(axis=(0, 2)) + 1e-6, rtol=1e-4)


def test_augmented_copies_never_enter_the_validation_part():
    from serkit.models.neural import TorchClassifier

    rng = np.random.default_rng(0)
    n = 60
    X0 = rng.standard_normal((n, 8)).astype(np.float32)
    y0 = np.array(["a", "b", "c"] * 20)
    groups0 = np.repeat([f"s{i}" for i in range(6)], 10)
    X = np.concatenate([X0, X0 + 0.01])  # one augmented copy per file
    y = np.concatenate([y0, y0])
    groups = np.concatenate([groups0, groups0])
    origin = np.concatenate([np.arange(n), np.arange(n)])
    seen = {}

    class Spy(TorchClassifier):
        def _split(self, y_sub, g_sub):
            train, val = super()._split(y_sub, g_sub)
            seen["n"] = len(y_sub)
            return train, val

    model = Spy("mlp", epochs=1).fit(X, y, groups=groups, origin=origin)
    assert seen["n"] == n  # the split saw only the originals
    assert model.n_epochs_ == 1
