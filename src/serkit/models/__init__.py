"""Model registry: every model is a scikit-learn-style estimator built by name."""

from serkit.models.options import TorchOptions, option
from serkit.models.registry import MODELS, ModelSpec, build_model, get_model_spec, model_names, register_model

__all__ = [
    "MODELS",
    "ModelSpec",
    "TorchOptions",
    "build_model",
    "get_model_spec",
    "model_names",
    "option",
    "register_model",
]
