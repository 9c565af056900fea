"""One exception hierarchy, so the CLI can turn any user mistake into one line."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from pathlib import Path


class SerkitError(Exception):
    """Base of every error serkit raises on purpose (bad input, bad config)."""


class AudioProblem(str, Enum):
    """What is wrong with an audio input: the closed set the server maps to HTTP statuses."""

    NOT_FOUND = "not_found"
    EMPTY = "empty"  # 0 bytes, or a header with no samples
    UNRECOGNISED = "unrecognised"  # not an audio format the loader decodes
    CORRUPT = "corrupt"  # a known format that fails to decode
    TRUNCATED = "truncated"  # the header promises more data than the file holds
    TOO_LONG = "too_long"
    TOO_SHORT = "too_short"
    SILENT = "silent"
    BAD_SAMPLE_RATE = "bad_sample_rate"
    INVALID_SAMPLES = "invalid_samples"  # NaN or infinite values
    NO_SPEECH = "no_speech"


class AudioError(SerkitError):
    """A file that cannot be used as speech audio; the message names the file, `kind` says what is wrong."""

    def __init__(self, path: str | Path | None, problem: str, kind: AudioProblem = AudioProblem.CORRUPT) -> None:
        self.path = None if path is None else str(path)
        self.problem = problem
        self.kind = kind
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


class OutputError(SerkitError):
    """An output serkit refuses to write (it is an input, or a file serkit did not write) or could not write."""


class OutputBusyError(OutputError):
    """An output another serkit run is writing at this moment: refused, never interleaved."""

    def __init__(self, path: str | Path, pid: int | None) -> None:
        self.path = str(path)
        self.pid = pid
        who = f"pid {pid}" if pid else "another process"
        super().__init__(f"{path}: another serkit run ({who}) is writing it; wait for it to finish or choose "
                         "another --output")
