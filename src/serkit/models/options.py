"""How a model declares its options: a frozen dataclass whose fields are the options, their defaults and ranges.

The dataclass is the one declaration. `serkit models` lists its fields, `NAME[KEY=VALUE]` is typed and checked
against them (`ModelSpec.typed_params`), and the estimator is built from an instance of it, so a default or a
range is never written twice. This module imports no numerical library, so reading a bundle's config (the
prediction path) can check model options without scikit-learn or torch.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from serkit.validation import Bound

__all__ = ["NoOptions", "TorchOptions", "option", "option_bound"]

_POSITIVE = Bound(float, 0, float("inf"), above=True)
_POSITIVE_INT = Bound(int, 1, 2**31)


def option(default: Any, bound: Bound | None = None) -> Any:
    """A model option's field: its default and valid range (default range: a positive number, or a whole
    number from 1).

    Args:
        default: The option's default value; its type is the option's type.
        bound: The valid range; None for the default range.

    Returns:
        A dataclass field, for a field of a frozen options dataclass.
    """
    return dataclasses.field(default=default, metadata={"bound": bound})


def option_bound(f: dataclasses.Field) -> Bound:
    """The range an option's values must lie in."""
    bound = f.metadata.get("bound")
    if bound is not None:
        return bound
    return _POSITIVE_INT if isinstance(f.default, int) and not isinstance(f.default, bool) else _POSITIVE


@dataclasses.dataclass(frozen=True)
class NoOptions:
    """A model with nothing to set."""


@dataclasses.dataclass(frozen=True)
class TorchOptions:
    """The options of every torch model (`TorchClassifier` takes its defaults from here)."""

    epochs: int = option(60, Bound(int, 1, 10_000))
    batch_size: int = option(32, Bound(int, 1, 65_536))
    lr: float = option(1e-3, Bound(float, 0, 10, above=True))
    weight_decay: float = option(0.0, Bound(float, 0, 10))
    patience: int = option(8, Bound(int, 1, 10_000))
    validation_fraction: float = option(0.15, Bound(float, 0, 0.9))
