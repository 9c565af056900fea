"""One exception hierarchy, so the CLI can turn any user mistake into one line."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from pathlib import Path


class SerkitError(Exception):
    """Base of every error serkit raises on purpose (bad input, bad config).

    The message names parameters the way the Python API spells them (`min_confidence`,
    `normalize='corpus'`); `params` lists those names, so an app can respell them in its own terms
    (the CLI writes `--min-confidence`, `--normalize corpus`) without the library knowing its flags.

    Args:
        *args: The message (one line saying what is wrong, with the value received and what is valid), as
            for any Exception.
        params: The parameter names the message mentions, as the Python API spells them.

    Attributes:
        params: Those names, as a tuple.
    """

    def __init__(self, *args: object, params: Iterable[str] = ()) -> None:
        super().__init__(*args)
        self.params: tuple[str, ...] = tuple(params)

    def __reduce__(self) -> tuple:
        """Pickle by state, not by constructor arguments: an error raised in a worker process (a local pool or
        a Dask worker) comes back whole, whatever its subclass's constructor takes."""
        return rebuild_error, (type(self), self.args, self.__dict__)


def rebuild_error(cls: type[SerkitError], args: tuple, state: dict) -> SerkitError:
    """A SerkitError of class `cls` with its message arguments and attributes, without calling its constructor
    (what `SerkitError.__reduce__` pickles).

    Args:
        cls: The error's class.
        args: Its `args` (the message).
        state: Its attributes.

    Returns:
        The error, as it was raised.
    """
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


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
    """A file that cannot be used as speech audio; the message names the file, `kind` says what is wrong.

    Args:
        path: The file (or the name of a signal or upload); None for an unnamed signal.
        problem: What is wrong, in words; the message is ``PATH: PROBLEM``.
        kind: What is wrong, from a closed set (the server maps it to an HTTP status).

    Attributes:
        path: The file, as a string, or None.
        problem: What is wrong, in words.
        kind: What is wrong, from a closed set.
    """

    def __init__(self, path: str | Path | None, problem: str, kind: AudioProblem = AudioProblem.CORRUPT) -> None:
        self.path = None if path is None else str(path)
        self.problem = problem
        self.kind = kind
        where = self.path if self.path is not None else "<audio>"
        super().__init__(f"{where}: {problem}")


class CorpusError(SerkitError):
    """A corpus folder or manifest that cannot be read."""


class ConfigError(SerkitError, ValueError):
    """An option value that is not allowed (a ValueError too, the scikit-learn convention)."""


class UnknownNameError(ConfigError):
    """A name outside a closed vocabulary: says what was given and what is valid.

    Args:
        kind: What the name is of, as the message says it (``model``, ``backend``).
        value: The name given.
        choices: The valid names (listed sorted in the message).

    Attributes:
        kind: What the name is of.
        value: The name given.
        choices: The valid names, sorted.
    """

    def __init__(self, kind: str, value: object, choices: Iterable[str]) -> None:
        self.kind = kind
        self.value = value
        self.choices = sorted(choices)
        super().__init__(f"unknown {kind} {value!r}; valid choices: {', '.join(self.choices)}")


class DataError(SerkitError, ValueError):
    """Data that cannot support the requested training or evaluation (a ValueError too: a bad value given)."""


class BundleError(SerkitError):
    """A model bundle that is missing, corrupt, or incompatible."""


class MissingExtraError(SerkitError, ImportError):
    """A feature whose optional dependencies (a pip extra) are not installed.

    It is an ImportError, so code that already guards an import catches it, and a SerkitError, so the
    command line shows it as one line. The message names what needed the extra and how to install it.

    Args:
        extra: The extra to install, e.g. ``train``.
        what: What needed it, e.g. ``serkit train`` or ``serkit predict --scheduler``.
        hint: An alternative that needs no install, appended after a semicolon.

    Attributes:
        extra: The extra's name.
        what: What needed it.
    """

    def __init__(self, extra: str, what: str, hint: str = "") -> None:
        self.extra = extra
        self.what = what
        self.hint = hint
        message = f'{what} needs the "{extra}" extra: pip install "serkit[{extra}]"' + (f"; {hint}" if hint else "")
        SerkitError.__init__(self, message)
        self.msg = message


class OutputError(SerkitError):
    """An output serkit refuses to write (it is an input, or a file serkit did not write) or could not write."""


class OutputBusyError(OutputError):
    """An output another serkit run is writing at this moment: refused, never interleaved.

    Args:
        path: The output being written (a file or a folder).
        pid: The process holding its lock, when known.

    Attributes:
        path: The output, as text.
        pid: The holder's process id, or None.
    """

    def __init__(self, path: str | Path, pid: int | None) -> None:
        self.path = str(path)
        self.pid = pid
        who = f"pid {pid}" if pid else "another process"
        super().__init__(
            f"{path}: another serkit run ({who}) is writing it; wait for it to finish or choose another output"
        )
