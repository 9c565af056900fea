"""Models learn, not only return arrays of the right shape: far above chance on a separable problem."""

from __future__ import annotations

import numpy as np
import pytest

from serkit.models import build_model, get_model_spec


def _clusters(n_per_class: int, shape: tuple[int, ...], seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Four emotion classes as Gaussian clusters around fixed random centres, with speaker groups."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(42).standard_normal((4, *shape)) * 1.5
    labels = np.array(["angry", "happy", "neutral", "sad"])
    X = np.concatenate([c + rng.standard_normal((n_per_class, *shape)) for c in centres]).astype(np.float32)
    y = np.repeat(labels, n_per_class)
    groups = np.tile(np.arange(8), len(y) // 8 + 1)[: len(y)].astype(str)
    return X, y, groups


@pytest.mark.parametrize("name, shape", [("mlp", (20,)), ("mlp_bn", (20,)), ("cnn_features", (40,)),
                                         ("layer_head", (3, 16)), ("logreg", (20,))])
def test_model_learns_a_separable_problem(name, shape):
    X, y, groups = _clusters(60, shape, seed=0)
    X_test, y_test, _ = _clusters(25, shape, seed=1)
    spec = get_model_spec(name)
    params = {"epochs": 40} if spec.family.trains_by_epochs else {}
    model = build_model(name, random_state=0, **params)
    spec.family.fit(model, X if spec.input != "vector" else X.reshape(len(X), -1), y, groups=groups)
    accuracy = float(np.mean(model.predict(X_test) == y_test))
    assert accuracy > 0.9, f"{name} reached {accuracy:.0%} on a separable 4-class problem (chance 25%)"
    # the same model on shuffled labels cannot generalise: the check above can fail
    shuffled = np.random.default_rng(3).permutation(y)
    model = build_model(name, random_state=0, **params)
    spec.family.fit(model, X, shuffled, groups=groups)
    assert float(np.mean(model.predict(X_test) == y_test)) < 0.6
