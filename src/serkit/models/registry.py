"""One registry of models by name: each entry builds a fresh scikit-learn-style estimator."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from serkit.errors import UnknownNameError


@dataclass(frozen=True)
class ModelSpec:
    name: str
    family: str  # "torch" or "sklearn"
    input: str  # "vector", "matrix" (cnn_mfcc needs one 2-D feature), "states" (stacked encoder states)
    build: Callable[..., Any]
    description: str


def _sk_pipeline(clf):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), clf)


def _logreg(random_state: int = 0, **kw):
    from sklearn.linear_model import LogisticRegression

    return _sk_pipeline(LogisticRegression(C=kw.get("C", 0.01), max_iter=3000, class_weight="balanced", random_state=random_state))


def _svm(random_state: int = 0, **kw):
    from sklearn.svm import SVC

    return _sk_pipeline(SVC(C=kw.get("C", 1.0), probability=True, class_weight="balanced", random_state=random_state))


def _rf(random_state: int = 0, **kw):
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=300, class_weight="balanced", n_jobs=1, random_state=random_state)


def _gb(random_state: int = 0, **kw):
    from lightgbm import LGBMClassifier

    return LGBMClassifier(
        n_estimators=300, learning_rate=0.05, num_leaves=15, subsample=0.8, subsample_freq=1,
        colsample_bytree=0.5, class_weight="balanced", n_jobs=1, random_state=random_state, verbose=-1,
    )


def _torch(arch: str):
    def build(random_state: int = 0, **kw):
        from serkit.models.neural import TorchClassifier

        return TorchClassifier(arch, random_state=random_state, **kw)

    return build


MODELS: dict[str, ModelSpec] = {
    s.name: s
    for s in [
        ModelSpec("cnn_mfcc", "torch", "matrix", _torch("cnn_mfcc"), "seed CNN on the normalised 25x216 MFCC matrix"),
        ModelSpec("cnn_features", "torch", "vector", _torch("cnn_features"), "seed 1-D CNN over a feature vector"),
        ModelSpec("mlp", "torch", "vector", _torch("mlp"), "MLP 256-128 with dropout"),
        ModelSpec("mlp_bn", "torch", "vector", _torch("mlp_bn"), "3 x 50 units with batch-norm (EMO-DB seed)"),
        ModelSpec("mlp_bn_dropout", "torch", "vector", _torch("mlp_bn_dropout"), "3 x 50 units, batch-norm and dropout"),
        ModelSpec("layer_head", "torch", "states", _torch("layer_head"), "learned weighted sum of encoder layers + MLP"),
        ModelSpec("logreg", "sklearn", "vector", _logreg, "standardised logistic regression"),
        ModelSpec("svm", "sklearn", "vector", _svm, "standardised RBF SVM"),
        ModelSpec("random_forest", "sklearn", "vector", _rf, "random forest, 300 trees"),
        ModelSpec("gradient_boosting", "sklearn", "vector", _gb, "LightGBM gradient boosting"),
    ]
}


def model_names() -> list[str]:
    return sorted(MODELS)


def get_model_spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise UnknownNameError("model", name, MODELS)
    return MODELS[name]


def parse_model_names(spec: str | list[str]) -> list[str]:
    names = [p.strip() for p in spec.split(",") if p.strip()] if isinstance(spec, str) else list(spec)
    if not names:
        raise UnknownNameError("model", spec, MODELS)
    for n in names:
        get_model_spec(n)
    return names


def build_model(name: str, *, random_state: int = 0, **params: Any):
    return get_model_spec(name).build(random_state=random_state, **params)
