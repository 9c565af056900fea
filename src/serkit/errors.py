"""One exception hierarchy, so the CLI can turn any user mistake into one line."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


class SerkitError(Exception):
    """Base of every error serkit raises on purpose (bad input, bad config)."""


class AudioError(SerkitError):
    """A file that cannot be used as speech audio; the message names the file."""

    def __init__(self, path: str | Path | None, problem: str) -> None:
        self.path = None if path is None else str(path)
        self.problem = problem
        where = self.path if self.path is not None else "<audio>"
        super().__init__(f"{where}: {problem}")


class CorpusError(SerkitError):
    """A corpus folder or manifest that cannot be read."""


class ConfigError(SerkitError):
    """An option value that is not allowed."""


class UnknownNameError(ConfigError):
    """A name outside a closed vocabulary: says what was given and what is valid."""

    def __init__(self, kind: str, value: object, choices: Iterable[str]) -> None:
        self.kind = kind
        self.value = value
        self.choices = sorted(choices)
        super().__init__(f"unknown {kind} {value!r}; valid choices: {', '.join(self.choices)}")


class DataError(SerkitError):
    """Data that cannot support the requested training or evaluation."""


class BundleError(SerkitError):
    """A model bundle that is missing, corrupt, or incompatible."""
