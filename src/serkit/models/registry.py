"""One registry of models by name: each entry builds a fresh scikit-learn-style estimator.

A model is a `ModelSpec`: how it is fitted (its family), what it reads, how it is built, and its options,
declared once as a frozen dataclass next to its builder (`models.options`). `register_model` adds one;
`tests/plugin_example.py` registers a throwaway model from its own module.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from serkit.errors import ConfigError, UnknownNameError
from serkit.models.families import SKLEARN, TORCH, ModelFamily
from serkit.models.options import NoOptions, TorchOptions, option, option_bound
from serkit.registry import Registry
from serkit.validation import Bound


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A registered model.

    Attributes:
        name: the registry name (`--model NAME[OPTS]`).
        family: how it is fitted, saved, loaded, exported.
        input: "vector", "matrix" (cnn_mfcc needs one 2-D feature), "states" (stacked encoder states).
        build: `build(random_state=..., **options)` returns a fresh unfitted estimator.
        description: one line for `serkit models`.
        options_class: a frozen dataclass whose fields are the settable options, their defaults and ranges.
    """

    name: str
    family: ModelFamily
    input: str
    build: Callable[..., Any]
    description: str
    options_class: type = NoOptions

    @property
    def options(self) -> dict[str, Any]:
        """The settable options and their defaults."""
        return {f.name: f.default for f in dataclasses.fields(self.options_class)}

    def typed_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Options given as strings (`logreg[C=0.001]`) or values, typed like their defaults; unknown ones refused.

        Args:
            params: Option name -> value (a string from the command line, or a value).

        Returns:
            Option name -> value, typed and range-checked.

        Raises:
            UnknownNameError: an option this model does not have.
            ConfigError: a value that is not of the option's type or outside its range.
        """
        fields = {f.name: f for f in dataclasses.fields(self.options_class)}
        out = {}
        for key, value in params.items():
            if key not in fields:
                raise UnknownNameError(f"{self.name} option", key, fields or ["(none)"])
            default: Any = fields[key].default
            try:
                typed = type(default)(value) if not isinstance(value, bool) else value
            except (TypeError, ValueError):
                raise ConfigError(
                    f"{self.name} option {key} must be a {type(default).__name__}, got {value!r}"
                ) from None
            option_bound(fields[key]).check(f"{self.name} option {key}", typed)
            out[key] = typed
        return out


def _sk_pipeline(clf):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), clf)


@dataclasses.dataclass(frozen=True)
class LogRegOptions:
    C: float = option(0.01, Bound(float, 0, 1e6, above=True))  # inverse regularisation strength


def _logreg(random_state: int = 0, **kw: Any):
    from sklearn.linear_model import LogisticRegression

    o = LogRegOptions(**kw)
    return _sk_pipeline(LogisticRegression(C=o.C, max_iter=3000, class_weight="balanced", random_state=random_state))


@dataclasses.dataclass(frozen=True)
class SvmOptions:
    C: float = option(1.0, Bound(float, 0, 1e6, above=True))


def _svm(random_state: int = 0, **kw: Any):
    from sklearn.svm import SVC

    o = SvmOptions(**kw)
    return _sk_pipeline(SVC(C=o.C, probability=True, class_weight="balanced", random_state=random_state))


@dataclasses.dataclass(frozen=True)
class ForestOptions:
    n_estimators: int = option(300, Bound(int, 1, 100_000))


def _rf(random_state: int = 0, **kw: Any):
    from sklearn.ensemble import RandomForestClassifier

    o = ForestOptions(**kw)
    return RandomForestClassifier(
        n_estimators=o.n_estimators, class_weight="balanced", n_jobs=1, random_state=random_state
    )


@dataclasses.dataclass(frozen=True)
class BoostingOptions:
    n_estimators: int = option(300, Bound(int, 1, 100_000))
    learning_rate: float = option(0.05, Bound(float, 0, 10, above=True))


def _gb(random_state: int = 0, **kw: Any):
    from lightgbm import LGBMClassifier

    o = BoostingOptions(**kw)
    return LGBMClassifier(
        n_estimators=o.n_estimators,
        learning_rate=o.learning_rate,
        num_leaves=15,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.5,
        class_weight="balanced",
        n_jobs=1,
        random_state=random_state,
        verbose=-1,
    )


def _torch(arch: str):
    def build(random_state: int = 0, **kw: Any):
        from serkit.models.neural import TorchClassifier

        return TorchClassifier(arch, random_state=random_state, **kw)

    return build


MODELS: Registry[ModelSpec] = Registry("model")


def register_model(spec: ModelSpec, *, replace: bool = False) -> None:
    """Make a model available by `spec.name` (`--model NAME[OPTS]`, `serkit models`).

    Args:
        spec: The model: its name, family, input, builder, description and options class.
        replace: Replace a model already registered under that name.

    Raises:
        ConfigError: the name is taken (unless replace=True).
    """
    MODELS.add(spec.name, spec, replace=replace)


for _spec in [
    ModelSpec(
        "cnn_mfcc", TORCH, "matrix", _torch("cnn_mfcc"), "seed CNN on the normalised 25x216 MFCC matrix", TorchOptions
    ),
    ModelSpec(
        "cnn_features", TORCH, "vector", _torch("cnn_features"), "seed 1-D CNN over a feature vector", TorchOptions
    ),
    ModelSpec("mlp", TORCH, "vector", _torch("mlp"), "MLP 256-128 with dropout", TorchOptions),
    ModelSpec("mlp_bn", TORCH, "vector", _torch("mlp_bn"), "3 x 50 units with batch-norm (EMO-DB seed)", TorchOptions),
    ModelSpec(
        "mlp_bn_dropout",
        TORCH,
        "vector",
        _torch("mlp_bn_dropout"),
        "3 x 50 units, batch-norm and dropout",
        TorchOptions,
    ),
    ModelSpec(
        "layer_head",
        TORCH,
        "states",
        _torch("layer_head"),
        "learned weighted sum of encoder layers + MLP",
        TorchOptions,
    ),
    ModelSpec("logreg", SKLEARN, "vector", _logreg, "standardised logistic regression", LogRegOptions),
    ModelSpec("svm", SKLEARN, "vector", _svm, "standardised RBF SVM", SvmOptions),
    ModelSpec("random_forest", SKLEARN, "vector", _rf, "random forest, 300 trees", ForestOptions),
    ModelSpec("gradient_boosting", SKLEARN, "vector", _gb, "LightGBM gradient boosting", BoostingOptions),
]:
    register_model(_spec)


def model_names() -> list[str]:
    return sorted(MODELS)


def get_model_spec(name: str) -> ModelSpec:
    return MODELS.get(name)


def build_model(name: str, *, random_state: int = 0, **params: Any):
    return get_model_spec(name).build(random_state=random_state, **params)
