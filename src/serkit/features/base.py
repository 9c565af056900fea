"""The one interface every feature extractor follows, and the registry of them by name."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from enum import Enum
from typing import Any, ClassVar

import numpy as np

from serkit.errors import ConfigError, UnknownNameError
from serkit.extras import needs_extra
from serkit.registry import Registry

# Bump when any extractor's numbers change for the same config: invalidates every cache
# entry and makes bundles trained on older features refuse to load.
FEATURE_VERSION = "1"


class FeatureKind(str, Enum):
    """What a feature set produces per clip, and so which models can read it.

    Attributes:
        VECTOR: One fixed-length vector per clip.
        MATRIX: A fixed-shape 2-D array per clip (CNN input).
        STATES: (n_states, dim): pooled hidden states of every encoder layer.
    """

    VECTOR = "vector"  # one fixed-length vector per clip
    MATRIX = "matrix"  # a fixed-shape 2-D array per clip (CNN input)
    STATES = "states"  # (n_states, dim): pooled hidden states of every encoder layer


@dataclasses.dataclass(frozen=True)
class FeatureConfig:
    """Base for extractor configs: frozen so a config can be hashed into cache keys."""

    def validate(self, name: str) -> None:
        """Subclasses refuse values outside their valid range (ConfigError naming the option).

        Args:
            name: The feature set's name, for the message (``toy_bands option bands must be ...``).

        Raises:
            ConfigError: an option is outside its valid range (in subclasses; the base accepts anything).
        """


def _coerce(name: str, key: str, kind: Any, value: Any) -> Any:
    """A config value given as text (CLI, JSON) typed like its field: bool, int, float, str, Enum, tuple[int]."""
    import typing

    origin = typing.get_origin(kind)
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if isinstance(kind, type) and issubclass(kind, Enum):
            return kind(value.value if isinstance(value, Enum) else str(value).strip().lower())
        if kind is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if kind is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind is str:
            if not isinstance(value, str):
                raise ValueError
            return value
        if origin is tuple:
            if isinstance(value, str):
                items: list[Any] = []
                for part in value.replace("|", " ").replace(";", " ").split():
                    lo, dash, hi = part.partition("-")
                    items += list(range(int(lo), int(hi) + 1)) if dash else [int(part)]
                return tuple(items)
            if isinstance(value, list | tuple) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
                return tuple(value)
            raise ValueError
    except (TypeError, ValueError):
        pass
    else:
        return value
    shown = getattr(kind, "__name__", str(kind))
    if isinstance(kind, type) and issubclass(kind, Enum):
        shown = "one of " + ", ".join(m.value for m in kind)
    raise ConfigError(f"{name} option {key} must be {shown}, got {value!r}")


class FeatureExtractor(ABC):
    """Base of every feature set: one audio signal in, one array out, configured by a frozen config class.

    Subclass it, set the class attributes, implement `extract`, and `register` a loader for the class. A module
    that `extract` fails to import, when an extra provides it (scipy, torch, ...), comes out of `extract` as a
    MissingExtraError naming the feature set and the extra, in this process or a worker's.

    Args:
        config: A ready config (an instance of `config_class`); None for its defaults.
        **overrides: Options to change, by field name; strings are typed from the field's declaration
            (``bands="12"`` -> 12).

    Attributes:
        name: The registry name (``--features NAME``).
        kind: What `extract` returns: a vector, a matrix or encoder states.
        config_class: The frozen dataclass of the feature set's options.
        config: This extractor's options.
        onnx_folder: The folder of the ONNX files this extractor runs from (set by `use_onnx`), or None.

    Raises:
        ConfigError: `config` is of another class, or an option is ill-typed or out of range.
        UnknownNameError: an override names no option.
    """

    name: ClassVar[str]
    kind: ClassVar[FeatureKind]
    config_class: ClassVar[type[FeatureConfig]] = FeatureConfig
    # The folder of the ONNX files this extractor runs from (set by `use_onnx`), so workers can do the same.
    onnx_folder: str | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        extract = cls.__dict__.get("extract")
        if not inspect.isfunction(extract) or getattr(extract, "__isabstractmethod__", False):
            return

        # The one place where a feature set meets its back-end's absence: every extraction (extract_features
        # in any worker, a Predictor's single file) goes through here, so each reads as its extra's name.
        @functools.wraps(extract)
        def checked(self: FeatureExtractor, signal: np.ndarray) -> np.ndarray:
            with needs_extra(f"the {self.name} feature set"):
                return extract(self, signal)

        setattr(cls, "extract", checked)  # noqa: B010

    def __init__(self, config: FeatureConfig | None = None, **overrides: Any) -> None:
        base = config if config is not None else self.config_class()
        if not isinstance(base, self.config_class):
            raise ConfigError(f"{self.name}: config must be a {self.config_class.__name__}, got {type(base).__name__}")
        import typing

        hints = typing.get_type_hints(self.config_class)
        valid = {f.name for f in dataclasses.fields(base)}
        unknown = set(overrides) - valid
        if unknown:
            raise UnknownNameError(f"{self.name} option", sorted(unknown)[0], valid)
        typed = {k: _coerce(self.name, k, hints[k], v) for k, v in overrides.items()}
        self.config = dataclasses.replace(base, **typed)
        self.config.validate(self.name)

    @abstractmethod
    def extract(self, signal: np.ndarray) -> np.ndarray:
        """Features of one mono 16 kHz float32 signal.

        Args:
            signal: The samples, 1-D float32 at 16 kHz.

        Returns:
            The features, of the shape `kind` says (float32).

        Raises:
            MissingExtraError: the feature set needs an extra that is not installed (scipy, torch, ...).
        """

    def config_dict(self) -> dict[str, Any]:
        """The config as JSON-ready values (enums as their value, tuples as lists).

        Returns:
            Option name -> value, as bundles save it and `get_extractor` reads it back.
        """
        return {
            k: (v.value if isinstance(v, Enum) else list(v) if isinstance(v, tuple) else v)
            for k, v in dataclasses.asdict(self.config).items()
        }

    # -- capabilities: what an extractor can do beyond extract(); the defaults say "nothing more" ----
    def export_onnx(self, folder: Any) -> list[str]:
        """Write ONNX files this extractor runs from (torch-free prediction); return their names.

        Args:
            folder: The bundle folder to write into.

        Returns:
            The names of the files written; by default none (nothing to export).
        """
        return []

    def use_onnx(self, folder: Any) -> bool:
        """Run from the ONNX files `export_onnx` wrote into folder; False when there are none to use.

        Args:
            folder: The bundle folder holding the exported files.

        Returns:
            Whether this extractor now runs from them; by default False.
        """
        return False

    def card_notes(self) -> list[str]:
        """Limits a model card must state when a model uses these features (language, licence of weights).

        Returns:
            One sentence per limit; by default none.
        """
        return []

    def key(self) -> str:
        """Stable id of (extractor, config, feature version): the cache namespace.

        Returns:
            ``NAME-HASH``, the same for equal configs in any process.
        """
        blob = json.dumps({"name": self.name, "config": self.config_dict(), "version": FEATURE_VERSION}, sort_keys=True)
        return f"{self.name}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"

    def describe(self) -> dict[str, Any]:
        """The feature set as reports and bundles record it.

        Returns:
            Its name, kind, config and the feature version.
        """
        return {"name": self.name, "kind": self.kind.value, "config": self.config_dict(), "version": FEATURE_VERSION}


EXTRACTORS: Registry[type[FeatureExtractor]] = Registry("feature set")


def register(name: str, loader: Callable[[], type[FeatureExtractor]], *, replace: bool = False) -> None:
    """Make a feature set available by name: `loader()` returns its `FeatureExtractor` class and is called the
    first time the name is used, so a feature set whose module imports torch costs nothing until then.

    Args:
        name: the registry name (`--features NAME[OPTS]`), the class' `name`.
        loader: returns the extractor class.
        replace: allow replacing a registered name (otherwise a ConfigError).

    Raises:
        ConfigError: the name is taken and `replace` is False.
    """
    EXTRACTORS.add_lazy(name, loader, replace=replace)


def feature_names() -> list[str]:
    return sorted(EXTRACTORS)


def get_extractor(name: str, config: dict[str, Any] | None = None) -> FeatureExtractor:
    """An extractor by registry name; config (a dict, as stored in bundles) overrides defaults."""
    cls = EXTRACTORS.get(name)
    return cls(**(config or {}))  # overrides: an unknown option is an UnknownNameError, not a TypeError
