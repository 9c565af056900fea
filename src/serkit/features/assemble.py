"""Turn per-file feature arrays into the X a model reads (vector, matrix or stacked states)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from serkit.errors import ConfigError


def check_compatible(model: str, model_input: str, feature_names: Sequence[str], kinds: Mapping[str, str]) -> None:
    """Fail before any extraction when a model cannot read the chosen features."""
    if model_input == "matrix":
        if len(feature_names) != 1 or kinds[feature_names[0]] != "matrix":
            from serkit.features import feature_names as registered
            from serkit.features import get_extractor

            # every registered 2-D feature, not only among the chosen ones (none of which fits)
            matrix = [n for n in registered() if get_extractor(n).kind.value == "matrix"]
            raise ConfigError(
                f"model {model!r} reads one 2-D feature; got {'+'.join(feature_names)}; use one of: {', '.join(matrix)}"
            )
    elif model_input == "states":
        if len(feature_names) != 1 or kinds[feature_names[0]] != "states":
            raise ConfigError(
                f"model {model!r} reads stacked encoder states; use features='whisper_encoder'", params=("features",)
            )


def assemble(model_input: str, parts: Sequence[np.ndarray]) -> np.ndarray:
    """parts: one (n, ...) array per feature set, in the order the user named them."""
    if model_input in ("matrix", "states"):
        return np.asarray(parts[0], dtype=np.float32)
    return np.concatenate([p.reshape(len(p), -1) for p in parts], axis=1).astype(np.float32)
