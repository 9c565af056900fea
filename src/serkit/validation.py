"""Range checks of numeric options: one mechanism for the CLI, the server's settings, experiment configs and
feature configs, so every out-of-range value gets the same one-line message."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from serkit.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Bound:
    """A closed numeric range, the one way every numeric option is checked (the CLI's, the server's, a
    config's); ``above`` makes the low end exclusive (a time-out of 0 means nothing)."""

    kind: type
    low: float
    high: float
    above: bool = False

    def describe(self) -> str:
        what = "an integer" if self.kind is int else "a number"
        low = f"above {self.low:g}" if self.above else f"from {self.low:g}"
        return f"{what} {low} to {self.high:g}"

    def holds(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.kind is int and not isinstance(value, int):
            return False
        if not math.isfinite(value):
            return False
        return (value > self.low if self.above else value >= self.low) and value <= self.high

    def check(self, name: str, value: Any) -> None:
        if not self.holds(value):
            raise ConfigError(f"{name} must be {self.describe()}, got {value!r}")

    def parse(self, text: str) -> int | float:
        """The CLI's view: a string to a number in range, or ``ValueError`` with the reason."""
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
