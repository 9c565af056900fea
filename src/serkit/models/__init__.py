"""Model registry: every model is a scikit-learn-style estimator built by name."""

from serkit.models.registry import MODELS, ModelSpec, build_model, get_model_spec, model_names

__all__ = ["MODELS", "ModelSpec", "build_model", "get_model_spec", "model_names"]
