"""One experiment configuration: what is computed, declared, documented and validated once.

`ExperimentConfig` says *what* an evaluation or a training run computes (data, labels,
features and their options, models and their options, protocol, folds, seed, augmentation,
normalisation); `RunOptions` says *how* it runs (cache, workers, progress). The CLI builds its
options from the fields' metadata, `evaluate`/`train` take the config, and a bundle stores it,
so an option exists in exactly one place. Like scikit-learn's parameters, every field is
documented once, here, and checked when the config is made (what needs the data itself — a label
list's labels, speakers for the speaker protocol — is checked when the data is read).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from enum import Enum
from typing import TYPE_CHECKING, Any

from serkit.errors import ConfigError, UnknownNameError
from serkit.normalization_names import Normalization
from serkit.validation import Bound, check_range

if TYPE_CHECKING:
    from serkit.normalization import Normalizer

__all__ = [
    "Bound",
    "Component",
    "ExperimentConfig",
    "Normalization",
    "Protocol",
    "RunOptions",
    "check_range",
    "feature_extractors",
    "iter_cli_fields",
    "parse_component",
    "split_top_level",
]


class Protocol(str, Enum):
    SPEAKER = "speaker"  # speaker-independent CV (grouped k-fold, or leave-one-speaker-out)
    RANDOM = "random"  # stratified random k-fold: speaker-dependent (optimistic)
    CROSS = "cross"  # train on data, test on test_data
    CORPUS = "corpus"  # leave-one-corpus-out: train on all other corpora, test on the held-out one


PROTOCOL_LABELS = {
    Protocol.SPEAKER: "speaker-independent",
    Protocol.RANDOM: "speaker-dependent (optimistic)",
    Protocol.CROSS: "cross-corpus",
    Protocol.CORPUS: "leave-one-corpus-out",
}


def _enum(cls: type[Enum], value: Any, what: str) -> Any:
    try:
        return cls(value.value if isinstance(value, Enum) else str(value).strip().lower())
    except ValueError:
        raise UnknownNameError(what, value, [m.value for m in cls]) from None


# -- components: a registry name with options, written NAME[KEY=VALUE,...] on the command line -----
@dataclasses.dataclass(frozen=True)
class Component:
    """A feature set or a model: its registry name and the options that differ from its defaults."""

    name: str
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.options)

    def __str__(self) -> str:
        if not self.options:
            return self.name
        return f"{self.name}[{','.join(f'{k}={_format_value(v)}' for k, v in self.options)}]"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "options": {k: _plain(v) for k, v in self.options}}

    @classmethod
    def from_dict(cls, raw: Any, *, where: str) -> Component:
        if isinstance(raw, str):
            return cls(raw)
        if (
            not isinstance(raw, Mapping)
            or not isinstance(raw.get("name"), str)
            or not isinstance(raw.get("options", {}), Mapping)
        ):
            raise ConfigError(f"{where}: expected {{'name': str, 'options': {{...}}}}, got {raw!r}")
        return cls(raw["name"], tuple(sorted((str(k), _freeze(v)) for k, v in raw.get("options", {}).items())))


def _plain(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def _freeze(v: Any) -> Any:
    return tuple(v) if isinstance(v, list) else v


def _format_value(v: Any) -> str:
    return "|".join(map(str, v)) if isinstance(v, tuple) else str(v)


def split_top_level(spec: str) -> list[str]:
    """`a[x=1,y=2]+b,c` -> ['a[x=1,y=2]', 'b', 'c']: '+' and ',' separate, except inside brackets."""
    parts, depth, cur = [], 0, ""
    for ch in spec:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth < 0:
                raise ConfigError(f"unbalanced ']' in {spec!r}")
        if ch in "+," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if depth:
        raise ConfigError(f"unbalanced '[' in {spec!r}")
    parts.append(cur.strip())
    return [p for p in parts if p]


def parse_component(text: str) -> Component:
    """`logreg[C=0.001]` or `whisper_encoder[states=1-2,pooling=mean]`: values stay strings here and are
    typed by the component's own option schema (see `features.base` and `models.registry`)."""
    text = text.strip()
    if "[" not in text:
        return Component(text)
    if not text.endswith("]"):
        raise ConfigError(f"{text!r}: options go in brackets at the end, e.g. logreg[C=0.001]")
    name, _, body = text[:-1].partition("[")
    options = []
    for item in split_top_level(body.replace("+", "\x00")):
        key, eq, value = item.replace("\x00", "+").partition("=")
        if not eq or not key.strip():
            raise ConfigError(f"{text!r}: option {item!r} is not KEY=VALUE")
        options.append((key.strip(), value.strip()))
    return Component(name.strip(), tuple(sorted(options)))


def _components(value: Any, what: str) -> tuple[Component, ...]:
    if isinstance(value, Component):
        items: list[Any] = [value]
    elif isinstance(value, str):
        items = split_top_level(value)
    else:
        items = list(value)
    out = tuple(
        v
        if isinstance(v, Component)
        else (Component.from_dict(v, where=what) if isinstance(v, Mapping) else parse_component(str(v)))
        for v in items
    )
    if not out:
        raise ConfigError(f"no {what} given")
    return out


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


# Where an option's help lists the names --data NAME=PATH accepts. The command line fills them in from the
# registry (serkit.corpora.corpus_names) only when it shows that help, so neither importing this module nor
# `serkit --help` reads the corpora, and a reader registered later (a plug-in) is listed too.
CORPUS_NAMES = "{corpus_names}"
# And where it lists the registered feature sets (serkit.features.feature_names), likewise filled in when shown.
FEATURE_NAMES = "{feature_names}"


def _option(
    help: str,
    *,
    cli: str | None = None,
    metavar: str | None = None,
    choices: Sequence[str] | None = None,
    repeat: bool = False,
    folds_only: bool = False,
    evaluate_only: bool = False,
    per_command: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "help": help,
        "per_command": dict(per_command or {}),
        "cli": cli,
        "metavar": metavar,
        "choices": choices,
        "repeat": repeat,
        "folds_only": folds_only,
        "evaluate_only": evaluate_only,
    }


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    """What an evaluation or training run computes. Made once, validated on construction, saved in every
    report and bundle.

    Strings are accepted where a field takes an enum or components (``models="logreg[C=0.01],svm"``,
    ``protocol="cross"``); they are parsed and checked here, so a config that exists is a valid one.

    Attributes:
        data: Corpus folders or CSV manifests, each optionally ``NAME=PATH`` to force the reader; several
            are merged.
        models: The model(s), with options in brackets (``logreg[C=0.001]``); `evaluate` compares several,
            `train` takes one.
        features: The feature sets, combined with ``+``, with options in brackets.
        labels: The label set when merging corpora: ``union``, ``intersection`` or ``LABEL,LABEL,...``.
        protocol: ``speaker`` (speaker-independent CV), ``random`` (speaker-dependent), ``cross`` (train on
            `data`, test on `test_data`) or ``corpus`` (leave-one-corpus-out).
        test_data: The test corpora of ``protocol='cross'``.
        folds: Folds for grouped and random cross-validation (at least 2).
        seed: Seed for folds, models, augmentation and adaptation samples.
        augment: Training-fold augmentations; test and validation audio is never augmented.
        augment_copies: Augmented copies per training file (0 without `augment`).
        epochs: Maximum epochs for torch models (None: their default, with early stopping).
        normalize: The normalisation scheme: ``none``, ``corpus`` or ``speaker``.
        adapt_files: With ``normalize='corpus'`` and protocol ``corpus`` or ``cross``: normalise each test
            corpus with statistics of this many of its unlabelled files (0: unadapted).

    Raises:
        ConfigError: a field is ill-typed, out of range, or inconsistent with another (the message names
            the fields as this class spells them).
        UnknownNameError: an unknown model, feature set, protocol or normalisation.
    """

    data: tuple[str, ...] = dataclasses.field(
        metadata=_option(
            "corpus folder or CSV manifest (path,label[,speaker]); repeat to merge corpora; NAME forces the reader "
            f"({CORPUS_NAMES})",
            cli="--data",
            metavar="[NAME=]PATH",
            repeat=True,
        )
    )
    models: tuple[Component, ...] = dataclasses.field(
        default=(Component("logreg"),),
        metadata=_option(
            "model(s), with options in brackets: logreg[C=0.001]; several (comma-separated) are compared by "
            "`evaluate` (see `serkit models`)",
            cli="--model",
            metavar="NAME[OPTS][,NAME]",
        ),
    )
    features: tuple[Component, ...] = dataclasses.field(
        default=(Component("spectral_stats"),),
        metadata=_option(
            "feature sets combined with +, with options in brackets: whisper_encoder[states=1-2,pooling=mean] "
            f"({FEATURE_NAMES}; see `serkit features list`)",
            cli="--features",
            metavar="NAME[OPTS][+NAME]",
        ),
    )
    labels: str = dataclasses.field(
        default="union",
        metadata=_option(
            "label set when merging corpora: union, intersection, or LABEL,LABEL,...", cli="--labels", metavar="POLICY"
        ),
    )
    protocol: Protocol = dataclasses.field(
        default=Protocol.SPEAKER,
        metadata=_option(
            "speaker: speaker-independent CV (grouped k-fold, or leave-one-speaker-out for <= 10 speakers); "
            "random: stratified random k-fold, speaker-dependent (optimistic); cross: train on --data, test on "
            "--test-data; corpus: leave-one-corpus-out over the --data corpora (train on the others, test on each, "
            "on the classes both sides have)",
            cli="--protocol",
            choices=[p.value for p in Protocol],
        ),
    )
    test_data: tuple[str, ...] = dataclasses.field(
        default=(),
        metadata=_option(
            "test corpus for --protocol cross (repeatable)", cli="--test-data", metavar="[NAME=]PATH", repeat=True
        ),
    )
    folds: int = dataclasses.field(
        default=5, metadata=_option("folds for grouped and random CV (at least 2)", cli="--folds", metavar="K")
    )
    seed: int = dataclasses.field(
        default=0,
        metadata=_option("seed for folds, models, augmentation and adaptation samples", cli="--seed", metavar="N"),
    )
    augment: tuple[str, ...] = dataclasses.field(
        default=(),
        metadata=_option(
            "training-fold augmentation, comma-separated (see docs/evaluation.md); test and validation audio is never "
            "augmented",
            cli="--augment",
            metavar="LIST",
        ),
    )
    augment_copies: int = dataclasses.field(
        default=1,
        metadata=_option("augmented copies per training file (with --augment)", cli="--augment-copies", metavar="N"),
    )
    epochs: int | None = dataclasses.field(
        default=None,
        metadata=_option(
            "maximum epochs for torch models (default: the model's epochs option, see `serkit models`; with early "
            "stopping)",
            cli="--epochs",
            metavar="N",
        ),
    )
    normalize: Normalization = dataclasses.field(
        default=Normalization.NONE,
        metadata=_option(
            "none; corpus: z-score each training corpus with its own feature statistics (labels unused); a new "
            "corpus is normalised with statistics from `serkit adapt` on its unlabelled recordings, or else the "
            "pooled training statistics; speaker: z-score each speaker with that speaker's own files (transductive: "
            "prediction then needs several recordings of each speaker)",
            cli="--normalize",
            choices=[n.value for n in Normalization],
        ),
    )
    adapt_files: int = dataclasses.field(
        default=0,
        metadata=_option(
            "with --normalize corpus and --protocol corpus/cross: normalise each test corpus with statistics of this "
            "many random unlabelled files of it (unsupervised adaptation; 0: unadapted, else at least 10)",
            cli="--adapt-files",
            metavar="N",
            evaluate_only=True,
        ),
    )

    # -- validation: the one place -------------------------------------------------------------------
    def __post_init__(self) -> None:
        from serkit.augment import parse_augmentations

        set_ = object.__setattr__
        set_(self, "data", _strings(self.data))
        set_(self, "test_data", _strings(self.test_data))
        set_(self, "models", _components(self.models, "model"))
        set_(self, "features", _components(self.features, "feature set"))
        set_(self, "protocol", _enum(Protocol, self.protocol, "protocol"))
        set_(self, "normalize", _enum(Normalization, self.normalize, "normalisation"))
        aug = self.augment if isinstance(self.augment, str) else ",".join(self.augment)
        set_(self, "augment", tuple(a.value for a in parse_augmentations(aug)))
        for name in ("folds", "seed", "augment_copies", "adapt_files"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{name} must be a whole number, got {value!r}", params=(name,))
        if not self.data:
            raise ConfigError("no corpus to read; pass data=PATH or data=NAME=PATH", params=("data",))
        check_range("folds", self.folds, 2, 1000)
        check_range("seed", self.seed, 0, 2**32 - 1)
        check_range("augment_copies", self.augment_copies, 0, 100)
        check_range("adapt_files", self.adapt_files, 0, 1_000_000)
        if self.epochs is not None:
            if isinstance(self.epochs, bool) or not isinstance(self.epochs, int):
                raise ConfigError(f"epochs must be a whole number, got {self.epochs!r}", params=("epochs",))
            check_range("epochs", self.epochs, 1, 10_000)
        if not self.augment:
            set_(self, "augment_copies", 0)
        # Components: typed options, known names, models that can read the features.
        set_(self, "features", tuple(_checked_feature(c) for c in self.features))
        set_(self, "models", tuple(_checked_model(c) for c in self.models))
        names = [c.name for c in self.features]
        if len(set(map(str, self.features))) != len(self.features):
            raise ConfigError(f"a feature set is named twice in {'+'.join(map(str, self.features))}")
        kinds = self.feature_kinds()
        from serkit.features.assemble import check_compatible
        from serkit.models import get_model_spec

        for m in self.models:
            check_compatible(m.name, get_model_spec(m.name).input, names, kinds)
        if self.augment and set(self.augment) == {"specaugment"} and "matrix" not in kinds.values():
            raise ConfigError(
                "augment='specaugment' masks 2-D features only (mfcc_matrix, logmel); "
                f"{'+'.join(names)} would get identical copies",
                params=("augment",),
            )
        if self.protocol is Protocol.CROSS and not self.test_data:
            raise ConfigError("protocol='cross' needs test_data", params=("protocol", "test_data"))
        if self.test_data and self.protocol is not Protocol.CROSS:
            raise ConfigError(
                f"test_data goes with protocol='cross', not protocol={self.protocol.value!r}",
                params=("test_data", "protocol"),
            )
        if self.protocol is Protocol.CORPUS and len(self.data) < 2:
            raise ConfigError(
                "protocol='corpus' (leave-one-corpus-out) needs at least 2 data corpora", params=("protocol", "data")
            )
        if self.adapt_files:
            from serkit import normalization as nz

            if not self.normalizer.can_adapt:
                raise ConfigError(
                    f"adapt_files needs normalize={nz.adaptable_normalization()}", params=("adapt_files", "normalize")
                )
            if self.protocol not in (Protocol.CORPUS, Protocol.CROSS):
                raise ConfigError(
                    "adapt_files adapts to an unseen corpus: use it with protocol='corpus' or protocol='cross'",
                    params=("adapt_files", "protocol"),
                )
            from serkit.normalization import MIN_ADAPT_FILES

            # The adaptation sample check (Normalizer.check_sample) needs this many different recordings.
            check_range("adapt_files", self.adapt_files, MIN_ADAPT_FILES, 1_000_000)

    # -- derived -------------------------------------------------------------------------------------
    @property
    def model(self) -> Component:
        """The single model of a training run."""
        if len(self.models) != 1:
            raise ConfigError(f"train takes one model, got {len(self.models)}: {', '.join(map(str, self.models))}")
        return self.models[0]

    @property
    def normalizer(self) -> type[Normalizer]:
        """The normalisation scheme's class: it fits, applies, adapts and saves the statistics."""
        from serkit.normalization import scheme

        return scheme(self.normalize)

    def feature_kinds(self) -> dict[str, str]:
        """What each feature set produces.

        Returns:
            Feature set name -> ``vector``, ``matrix`` or ``states``.
        """
        from serkit.features import get_extractor

        return {c.name: get_extractor(c.name, c.params).kind.value for c in self.features}

    def extractors(self) -> list[Any]:
        """Fresh feature extractors for `features`, with their options.

        Returns:
            One FeatureExtractor per feature set, in order.
        """
        from serkit.features import get_extractor

        return [get_extractor(c.name, c.params) for c in self.features]

    def feature_spec(self) -> str:
        """The feature sets as the command line spells them.

        Returns:
            E.g. ``spectral_stats+whisper_encoder[pooling=mean]``.
        """
        return "+".join(map(str, self.features))

    def protocol_label(self) -> str:
        """The protocol in words, as reports and model cards print it.

        Returns:
            E.g. ``leave-one-corpus-out + per-corpus normalisation``.
        """
        label = PROTOCOL_LABELS[self.protocol] + self.normalizer.label
        if self.adapt_files:
            label += f", adapted on {self.adapt_files} unlabelled files of each test corpus"
        return label

    def model_params(self, model: Component) -> dict[str, Any]:
        """Options the model is built with: its own, plus the experiment's epochs for models that train by epochs.

        Args:
            model: One of `models`.

        Returns:
            Option name -> value, typed.
        """
        from serkit.models import get_model_spec

        params = model.params
        if self.epochs is not None and get_model_spec(model.name).family.trains_by_epochs:
            params.setdefault("epochs", self.epochs)
        return params

    def to_dict(self) -> dict[str, Any]:
        """The config as JSON-ready values: what reports and bundles save, and `from_dict` reads back.

        Returns:
            Field name -> value (enums as strings, tuples as lists).
        """
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, Enum):
                v = v.value
            elif f.name in ("models", "features"):
                v = [c.to_dict() for c in v]
            elif isinstance(v, tuple):
                v = list(v)
            out[f.name] = v
        return out

    @classmethod
    def from_dict(cls, raw: Any, *, where: str = "config") -> ExperimentConfig:
        """From a saved config (a bundle's or a report's): unknown or ill-typed fields are one-line errors.

        Args:
            raw: The parsed JSON object (`to_dict`'s output).
            where: What error messages call its source (a file name).

        Returns:
            The validated config.

        Raises:
            ConfigError: `raw` is not an object, or has an unknown, ill-typed or invalid field.
        """
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{where}: expected a JSON object, got {type(raw).__name__}")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(raw) - set(fields))
        if unknown:
            raise ConfigError(f"{where}: unknown field {unknown[0]!r}; valid fields: {', '.join(fields)}")
        kwargs: dict[str, Any] = {}
        for name, value in raw.items():
            if name in ("models", "features"):
                if not isinstance(value, list):
                    raise ConfigError(f"{where}: field {name!r} must be a list, got {value!r}")
                value = tuple(Component.from_dict(v, where=f"{where}: {name}") for v in value)
            elif name in ("data", "test_data", "augment"):
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ConfigError(f"{where}: field {name!r} must be a list of strings, got {value!r}")
            elif name in ("labels", "protocol", "normalize") and not isinstance(value, str):
                raise ConfigError(f"{where}: field {name!r} must be a string, got {value!r}")
            kwargs[name] = value
        try:
            return cls(**kwargs)
        except TypeError as exc:
            raise ConfigError(f"{where}: {exc}") from None


def _checked_feature(c: Component) -> Component:
    from serkit.features import get_extractor

    ex = get_extractor(c.name, c.params)  # unknown names and options are errors here
    defaults = ex.config_class()
    changed = tuple(sorted((k, v) for k, v in ex.config_dict().items() if getattr(defaults, k) != _freeze(v)))
    return Component(c.name, tuple((k, _freeze(v)) for k, v in changed))


def _checked_model(c: Component) -> Component:
    from serkit.models import get_model_spec

    spec = get_model_spec(c.name)
    return Component(c.name, tuple(sorted(spec.typed_params(c.params).items())))


def feature_extractors(spec: Any) -> list[Any]:
    """Extractors for a feature spec (`whisper_encoder[pooling=mean]+egemaps`), each validated."""
    from serkit.features import get_extractor

    return [get_extractor(c.name, c.params) for c in map(_checked_feature, _components(spec, "feature set"))]


# What --scheduler accepts, in the words of every command's help (RunOptions.scheduler's per_command).
_CLUSTER = (
    "a Dask cluster: a running scheduler (tcp://HOST:8786; its workers read the files by path, so they need the "
    "same filesystem) or local[:N] (a local cluster of N single-threaded worker processes; default N: one per core)"
)


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """How a run is carried out; never changes what it computes, so it is not saved with results.

    Attributes:
        cache_dir: The feature cache folder (None: ``$SERKIT_CACHE`` or ``~/.cache/serkit/features``).
        no_cache: Compute features without reading or writing the cache.
        workers: Feature-extraction processes of the local pool (None: one per core).
        jobs: Folds trained in parallel.
        progress: Show progress bars.
        scheduler: Run feature extraction (and prediction) on a Dask cluster: a scheduler address
            (``tcp://HOST:8786``) or ``local[:N]``. Needs the ``dask`` extra.
        executor: Or the caller's own concurrent.futures.Executor or dask.distributed Client.

    Raises:
        ConfigError: `workers` or `jobs` out of range, or `scheduler` given with `executor` or `workers`.
    """

    cache_dir: str | None = dataclasses.field(
        default=None,
        metadata=_option(
            "feature cache folder (default: $SERKIT_CACHE or ~/.cache/serkit/features)", cli="--cache", metavar="DIR"
        ),
    )
    no_cache: bool = dataclasses.field(
        default=False, metadata=_option("compute features without reading or writing the cache", cli="--no-cache")
    )
    workers: int | None = dataclasses.field(
        default=None,
        metadata=_option(
            "feature-extraction processes of the local pool (default: one per core, each single-threaded)",
            cli="--workers",
            metavar="N",
        ),
    )
    jobs: int = dataclasses.field(
        default=2,
        metadata=_option(
            "folds trained in parallel (single-threaded each)", cli="--jobs", metavar="N", folds_only=True
        ),
    )
    progress: bool = dataclasses.field(default=True, metadata=_option("no progress bars", cli="--quiet"))
    scheduler: str | None = dataclasses.field(
        default=None,
        metadata=_option(
            f"run the per-file work on {_CLUSTER}",
            cli="--scheduler",
            metavar="ADDRESS|local[:N]",
            per_command={  # what each command sends there, and what stays in this process
                "evaluate": f"run the feature extraction on {_CLUSTER}; the folds are trained here",
                "train": f"run the feature extraction on {_CLUSTER}; the model is trained here",
                "features extract": f"run the feature extraction on {_CLUSTER}",
                "predict": f"run the feature extraction and prediction, in batches, on {_CLUSTER}",
                "adapt": f"extract the recordings' features on {_CLUSTER}",
            },
        ),
    )
    # Or the caller's own concurrent.futures.Executor / dask.distributed.Client (Python only: no CLI option).
    executor: Any = dataclasses.field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.workers is not None:
            check_range("workers", self.workers, 1, 1024)
        check_range("jobs", self.jobs, 1, 1024)
        if self.scheduler is not None:
            from serkit.parallel import Scheduler

            object.__setattr__(self, "scheduler", str(Scheduler.parse(self.scheduler)))
            if self.executor is not None:
                raise ConfigError("give a scheduler or an executor, not both")
            if self.workers is not None:
                raise ConfigError(
                    f"workers sizes the local pool; with scheduler={self.scheduler!r} the cluster's "
                    "workers do the work (local:N sets how many)",
                    params=("workers", "scheduler"),
                )

    def cache(self):
        """The feature cache this run reads and writes.

        Returns:
            (FeatureCache | None): The cache, or None with `no_cache`.
        """
        from serkit.features import FeatureCache

        return None if self.no_cache else FeatureCache(self.cache_dir)

    def pool(self) -> Any:
        """The executor feature extraction runs on: the caller's, the --scheduler's (connected once and reused),
        or None for the local pool.

        Returns:
            An executor or a dask.distributed Client, or None.

        Raises:
            SerkitError: the scheduler cannot be reached in time.
            MissingExtraError: `scheduler` is set and the ``dask`` extra is not installed.
        """
        if self.executor is not None or self.scheduler is None:
            return self.executor
        from serkit.parallel import connect

        return connect(self.scheduler, announce=self.progress)

    def extraction(self) -> dict[str, Any]:
        """The keyword arguments every `extract_features` call of this run takes: its cache, local workers,
        executor and progress, each made once here (one scheduler connection, one cache) and shared.

        Returns:
            ``cache``, ``workers``, ``executor`` and ``progress``, for `serkit.features.extract_features`.

        Raises:
            SerkitError: the scheduler cannot be reached in time.
            MissingExtraError: `scheduler` is set and the ``dask`` extra is not installed.
        """
        return {"cache": self.cache(), "workers": self.workers, "executor": self.pool(), "progress": self.progress}


def iter_cli_fields(*, command: str) -> Iterable[dataclasses.Field]:
    """The config fields a CLI command exposes (train has one model and no adaptation sample)."""
    for f in dataclasses.fields(ExperimentConfig):
        meta = f.metadata
        if command == "train" and meta.get("evaluate_only"):
            continue
        yield f
