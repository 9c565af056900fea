"""One registry of models by name: each entry builds a fresh scikit-learn-style estimator."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from serkit.errors import ConfigError, UnknownNameError
from serkit.models.families import SKLEARN, TORCH, ModelFamily
from serkit.validation import Bound

# The valid range of every model option (an option not listed: a positive number).
OPTION_BOUNDS = {
    "C": Bound(float, 0, 1e6, above=True),
    "lr": Bound(float, 0, 10, above=True),
    "weight_decay": Bound(float, 0, 10),
    "validation_fraction": Bound(float, 0, 0.9),
    "learning_rate": Bound(float, 0, 10, above=True),
    "epochs": Bound(int, 1, 10_000),
    "batch_size": Bound(int, 1, 65_536),
    "patience": Bound(int, 1, 10_000),
    "n_estimators": Bound(int, 1, 100_000),
}
_POSITIVE = Bound(float, 0, float("inf"), above=True)
_POSITIVE_INT = Bound(int, 1, 2**31)

# Options every torch model takes (TorchClassifier's), with their defaults: they type CLI values.
_TORCH_OPTIONS = {"epochs": 60, "batch_size": 32, "lr": 1e-3, "weight_decay": 0.0, "patience": 8,
                  "validation_fraction": 0.15}


@dataclass(frozen=True)
class ModelSpec:
    name: str
    family: ModelFamily  # how it is fitted, saved, loaded, exported
    input: str  # "vector", "matrix" (cnn_mfcc needs one 2-D feature), "states" (stacked encoder states)
    build: Callable[..., Any]
    description: str
    options: Mapping[str, Any] = field(default_factory=dict)  # settable options and their defaults

    def typed_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Options given as strings (`logreg[C=0.001]`) or values, typed like their defaults; unknown ones refused."""
        out = {}
        for key, value in params.items():
            if key not in self.options:
                raise UnknownNameError(f"{self.name} option", key, self.options or ["(none)"])
            default = self.options[key]
            try:
                typed = type(default)(value) if not isinstance(value, bool) else value
            except (TypeError, ValueError):
                raise ConfigError(f"{self.name} option {key} must be a {type(default).__name__}, got {value!r}") from None
            OPTION_BOUNDS.get(key, _POSITIVE_INT if isinstance(default, int) else _POSITIVE).check(
                f"{self.name} option {key}", typed)
            out[key] = typed
        return out


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

    return RandomForestClassifier(n_estimators=kw.get("n_estimators", 300), class_weight="balanced", n_jobs=1, random_state=random_state)


def _gb(random_state: int = 0, **kw):
    from lightgbm import LGBMClassifier

    return LGBMClassifier(
        n_estimators=kw.get("n_estimators", 300), learning_rate=kw.get("learning_rate", 0.05), num_leaves=15, subsample=0.8, subsample_freq=1,
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
        ModelSpec("cnn_mfcc", TORCH, "matrix", _torch("cnn_mfcc"), "seed CNN on the normalised 25x216 MFCC matrix",
                  _TORCH_OPTIONS),
        ModelSpec("cnn_features", TORCH, "vector", _torch("cnn_features"), "seed 1-D CNN over a feature vector",
                  _TORCH_OPTIONS),
        ModelSpec("mlp", TORCH, "vector", _torch("mlp"), "MLP 256-128 with dropout", _TORCH_OPTIONS),
        ModelSpec("mlp_bn", TORCH, "vector", _torch("mlp_bn"), "3 x 50 units with batch-norm (EMO-DB seed)",
                  _TORCH_OPTIONS),
        ModelSpec("mlp_bn_dropout", TORCH, "vector", _torch("mlp_bn_dropout"), "3 x 50 units, batch-norm and dropout",
                  _TORCH_OPTIONS),
        ModelSpec("layer_head", TORCH, "states", _torch("layer_head"), "learned weighted sum of encoder layers + MLP",
                  _TORCH_OPTIONS),
        ModelSpec("logreg", SKLEARN, "vector", _logreg, "standardised logistic regression", {"C": 0.01}),
        ModelSpec("svm", SKLEARN, "vector", _svm, "standardised RBF SVM", {"C": 1.0}),
        ModelSpec("random_forest", SKLEARN, "vector", _rf, "random forest, 300 trees", {"n_estimators": 300}),
        ModelSpec("gradient_boosting", SKLEARN, "vector", _gb, "LightGBM gradient boosting",
                  {"n_estimators": 300, "learning_rate": 0.05}),
    ]
}


def model_names() -> list[str]:
    return sorted(MODELS)


def get_model_spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise UnknownNameError("model", name, MODELS)
    return MODELS[name]


def build_model(name: str, *, random_state: int = 0, **params: Any):
    return get_model_spec(name).build(random_state=random_state, **params)
