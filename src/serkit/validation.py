"""Range checks of numeric options: one mechanism for the CLI, the server's settings, experiment configs and
feature configs, so every out-of-range value gets the same one-line message; and the checks of arrays read
from files (`check_array`), so a bad array in a bundle is one line naming the file, the array and the problem."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from serkit.errors import BundleError, ConfigError


@dataclasses.dataclass(frozen=True)
class Bound:
    """A closed numeric range, the one way every numeric option is checked (the CLI's, the server's, a
    config's); ``above`` makes the low end exclusive (a time-out of 0 means nothing).

    Attributes:
        kind: ``int`` (whole numbers only) or ``float``.
        low: The low end.
        high: The high end (inclusive).
        above: The low end is exclusive.
    """

    kind: type
    low: float
    high: float
    above: bool = False

    def describe(self) -> str:
        """The range in words, as messages say it.

        Returns:
            E.g. ``an integer from 1 to 64`` or ``a number above 0 to 60``.
        """
        what = "an integer" if self.kind is int else "a number"
        low = f"above {self.low:g}" if self.above else f"from {self.low:g}"
        return f"{what} {low} to {self.high:g}"

    def holds(self, value: Any) -> bool:
        """Whether a value is a number of the right kind, finite, and in range.

        Args:
            value: Any value (a bool is never a number here).

        Returns:
            True when it is in range.
        """
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.kind is int and not isinstance(value, int):
            return False
        if not math.isfinite(value):
            return False
        return (value > self.low if self.above else value >= self.low) and value <= self.high

    def check(self, name: str, value: Any) -> None:
        """Refuse a value outside the range, with the one-line message every option gets.

        Args:
            name: The option as the message names it (``toy_bands option bands``, ``min_confidence``).
            value: The value given.

        Raises:
            ConfigError: ``NAME must be an integer from 1 to 64, got 0``.
        """
        if not self.holds(value):
            raise ConfigError(
                f"{name} must be {self.describe()}, got {value!r}", params=(name,) if name.isidentifier() else ()
            )

    def parse(self, text: str) -> int | float:
        """The CLI's view: a string to a number in range, or ``ValueError`` with the reason.

        Args:
            text: The option's value as typed.

        Returns:
            The number.

        Raises:
            ValueError: not a number of the right kind, or out of range (argparse shows the reason).
        """
        try:
            value: int | float = int(text) if self.kind is int else float(text)
        except ValueError:
            raise ValueError(f"must be {self.describe()}, got {text!r}") from None
        if not self.holds(value):
            raise ValueError(f"must be {self.describe()}, got {text!r}")
        return value


def check_range(option: str, value: float, low: float, high: float) -> None:
    """`--folds must be an integer from 2 to 1000, got 1`: integer bounds check integers, others numbers."""
    kind = int if isinstance(low, int) and isinstance(high, int) else float
    Bound(kind, low, high).check(option, value)


_KINDS = {"f": "floating-point", "iu": "integer", "fiu": "numeric", "b": "boolean"}


def check_array(
    value: Any,
    *,
    where: str,
    name: str,
    kind: str = "f",
    shape: tuple[int | None, ...] | None = None,
    positive: bool = False,
) -> Any:
    """An array a file carries (a bundle's statistics, a model's fitted weights), checked before it is used.

    Args:
        value: The array as read (numpy, or anything `numpy.asarray` takes).
        where: The file it came from, for the message.
        name: The array's name in that file.
        kind: numpy dtype kinds allowed ("f" floats, "iu" integers, "fiu" any number).
        shape: The expected shape; None for any, and None in a position for any size there.
        positive: Every value must also be above 0 (a standard deviation, a scale).

    Returns:
        The array, as a numpy array.

    Raises:
        BundleError: one line naming the file, the array and the problem (dtype, shape, NaN or infinity).
    """
    import numpy as np

    arr = np.asarray(value)
    what = _KINDS.get(kind, kind)
    if arr.dtype.kind not in kind:
        raise BundleError(f"{where}: array {name!r} has dtype {arr.dtype}; expected {what} values")
    if shape is not None and (
        arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape, strict=True))
    ):
        want = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
        raise BundleError(f"{where}: array {name!r} has shape {tuple(arr.shape)}; expected {want}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise BundleError(f"{where}: array {name!r} holds NaN or infinite values")
    if positive and not np.all(arr > 0):
        raise BundleError(f"{where}: array {name!r} holds values at or below 0; expected positive values")
    return arr
