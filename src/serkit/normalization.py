"""Domain normalisation of feature rows: one class per scheme, behind one interface.

A domain (a corpus, a speaker, a user's recordings) is z-scored with the mean and standard
deviation of its own feature rows; labels are never used. Each scheme (`Normalizer` subclass)
owns its whole policy, so pipelines ask it instead of switching on its name:

- fitting on a training part, and normalising a fold's test rows (`fit`, `transform_test`);
- what prediction applies (`transform`), and whether it needs the whole batch (`per_batch`);
- adaptation statistics for a target domain, with the check that the sample can support them
  (`adapt`, `check_sample`);
- saving and loading its statistics with a bundle (`to_bytes`, `load`; normalization.npz);
- whether it can predict a live stream (`can_stream`) and be adapted (`can_adapt`).

A new scheme is one subclass registered with `register` (see `tests/test_normalization.py`).
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Hashable, Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar

import numpy as np

from serkit.errors import BundleError, DataError, SerkitError
from serkit.normalization_names import Normalization
from serkit.registry import Registry
from serkit.validation import check_array

MIN_ADAPT_FILES = 10  # fewer unlabelled recordings give statistics too noisy to trust
MIN_SPEAKER_FILES = 10  # a per-speaker model predicts at least this many recordings of one speaker together
# An adaptation sample whose per-feature spread (median over features of its std / the training data's) is
# below this is near-identical recordings: its statistics would blow every later input up to one class.
MIN_ADAPT_SPREAD = 0.15
EPS = 1e-6
STATS_FILE = "normalization.npz"


@dataclasses.dataclass(frozen=True)
class Stats:
    """Mean and standard deviation of feature rows (axis 0), and how many rows they came from."""

    mean: np.ndarray
    std: np.ndarray
    n: int

    @classmethod
    def of(cls, X: np.ndarray) -> Stats:
        X = np.asarray(X, dtype=np.float64)
        return cls(X.mean(axis=0), X.std(axis=0) + EPS, len(X))

    def apply(self, X: np.ndarray) -> np.ndarray:
        return ((np.asarray(X, dtype=np.float64) - self.mean) / self.std).astype(np.float32)

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}_mean": self.mean, f"{prefix}_std": self.std, f"{prefix}_n": np.asarray(self.n)}

    @classmethod
    def from_arrays(
        cls, arrays: Mapping[str, Any], prefix: str, *, where: str = "<statistics>", dim: int | None = None
    ) -> Stats:
        """Checked statistics: BundleError naming the file, the array and the problem (dtype, shape, values)."""
        shape = None if dim is None else (dim,)
        mean = check_array(arrays[f"{prefix}_mean"], where=where, name=f"{prefix}_mean", kind="f", shape=shape)
        std = check_array(
            arrays[f"{prefix}_std"], where=where, name=f"{prefix}_std", kind="f", shape=mean.shape, positive=True
        )
        n = check_array(arrays[f"{prefix}_n"], where=where, name=f"{prefix}_n", kind="iu", shape=())
        return cls(mean, std, int(n))


def by_group(X: np.ndarray, groups: Sequence[Hashable] | np.ndarray) -> dict[Hashable, Stats]:
    g = np.asarray(groups, dtype=object)
    return {k: Stats.of(X[g == k]) for k in dict.fromkeys(g.tolist())}


def apply_groups(X: np.ndarray, groups: Sequence[Hashable] | np.ndarray, stats: Mapping[Hashable, Stats]) -> np.ndarray:
    """Each row z-scored with its group's statistics."""
    g = np.asarray(groups, dtype=object)
    out = np.empty(X.shape, dtype=np.float32)
    for k, st in stats.items():
        rows = g == k
        out[rows] = st.apply(X[rows])
    return out


def normalise_training(
    X: np.ndarray, groups: Sequence[Hashable] | np.ndarray, n_originals: int
) -> tuple[np.ndarray, dict[Hashable, Stats]]:
    """Training rows z-scored per group (corpus or speaker) with statistics of the first `n_originals` rows
    (the original files; augmented copies after them are normalised, never counted)."""
    g = np.asarray(groups, dtype=object)
    stats = by_group(X[:n_originals], g[:n_originals])
    return apply_groups(X, g, stats), stats


def save_stats(stats: Mapping[str, Stats]) -> bytes:
    """npz bytes (no pickle) of named statistics."""
    arrays: dict[str, np.ndarray] = {}
    for name, st in stats.items():
        arrays.update(st.to_arrays(name))
    buf = io.BytesIO()
    np.savez(buf, allow_pickle=True, **arrays)  # the default, named so the checker maps **arrays to arrays only
    return buf.getvalue()


def load_stats(path: str | Path | io.BytesIO, names: Sequence[str], *, dim: int | None = None) -> dict[str, Stats]:
    """Named statistics from an npz file (or its bytes). BundleError, in one line naming the file and the array,
    when the file is missing or corrupt, or an array has the wrong dtype, shape or a non-finite value."""
    import zipfile

    where = str(path) if not isinstance(path, io.BytesIO) else STATS_FILE
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise BundleError(f"{where}: corrupt normalisation statistics ({str(exc).splitlines()[0]})") from None
    out = {}
    for n in names:
        if f"{n}_mean" not in arrays:
            continue
        missing = [k for k in (f"{n}_std", f"{n}_n") if k not in arrays]
        if missing:
            raise BundleError(f"{where}: array {missing[0]!r} missing (it goes with {n}_mean)")
        out[n] = Stats.from_arrays(arrays, n, where=where, dim=dim)
    return out


# -- the schemes ---------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True, eq=False)  # arrays: compared by identity
class Normalizer:
    """The interface every normalisation scheme implements; an instance holds what prediction applies.

    `fit` returns the normalised training rows and a fitted instance. Its `groups` hold the training
    domains' statistics, used for a fold's test rows in evaluation; a bundle keeps only `pooled` (all
    original training rows) and `adapted` (a target domain's, after `adapt`).

    A new scheme subclasses it as a frozen dataclass, sets the class attributes, overrides `fit`,
    `transform_test` and `transform`, and is made known by the `register` decorator. Instances are never
    changed: `adapt` returns a new one.

    Attributes:
        kind: The scheme's name, as ``normalize=`` takes it.
        label: Appended to the protocol label (`` + per-corpus normalisation``).
        can_stream: A single window of audio can be normalised on its own (live streams need it).
        can_adapt: `adapt` on unlabelled recordings of a target domain is meaningful.
        per_batch: Prediction statistics come from the whole batch being predicted.
        needs_speakers: Training needs a speaker for every file.
        saves_statistics: A bundle carries normalization.npz.
        groups: Statistics of each training domain (evaluation only; never saved).
        pooled: Statistics of all original training rows, or None.
        adapted: Statistics of a target domain after `adapt`, or None.
    """

    kind: ClassVar[str]  # a Normalization value for the built-in schemes
    label: ClassVar[str]  # appended to the protocol label, e.g. " + per-corpus normalisation"
    can_stream: ClassVar[bool] = True  # a single window of audio can be normalised on its own
    can_adapt: ClassVar[bool] = False  # `adapt` on unlabelled recordings of a target domain is meaningful
    per_batch: ClassVar[bool] = False  # prediction statistics come from the whole batch being predicted
    needs_speakers: ClassVar[bool] = False  # training needs a speaker for every file
    saves_statistics: ClassVar[bool] = False  # a bundle carries normalization.npz

    groups: Mapping[Hashable, Stats] = dataclasses.field(default_factory=dict, repr=False)
    pooled: Stats | None = None
    adapted: Stats | None = None

    # -- training and evaluation ------------------------------------------------------------------
    @classmethod
    def fit(
        cls, X: np.ndarray, *, speakers: np.ndarray, domains: np.ndarray, n_originals: int
    ) -> tuple[np.ndarray, Self]:
        """The training rows normalised, and the fitted scheme.

        Args:
            X: Training rows: the original files first, then their augmented copies.
            speakers: Speaker of each row.
            domains: Corpus of each row.
            n_originals: How many leading rows are original files; statistics come from those only, so
                augmented copies never shift them.

        Returns:
            (normalised rows, fitted instance).
        """
        return X, cls()

    def transform_test(
        self,
        X: np.ndarray,
        *,
        speakers: np.ndarray,
        domains: np.ndarray,
        adaptation: Mapping[str, np.ndarray] | None = None,
    ) -> np.ndarray:
        """A fold's test rows, with the statistics the protocol allows (labels are never read).

        Args:
            X: Test rows.
            speakers: Speaker of each test row.
            domains: Corpus of each test row.
            adaptation: Rows of unlabelled files of unseen test corpora, by corpus (`adapt_files`).

        Returns:
            The normalised test rows.
        """
        return X

    # -- prediction -------------------------------------------------------------------------------
    def transform(self, X: np.ndarray, *, whole_batch: bool) -> np.ndarray:
        """Rows to predict, normalised as the model expects.

        Args:
            X: Feature rows.
            whole_batch: True when X is a batch of recordings predicted together (not one window or file
                among others), which per-batch schemes need.

        Returns:
            The normalised rows.

        Raises:
            SerkitError: the scheme cannot normalise these rows (too few for per-batch statistics).
        """
        return X

    def check_stream(self, where: str) -> None:
        """SerkitError when a live stream cannot be normalised by this scheme.

        Args:
            where: The model, for the message.

        Raises:
            SerkitError: the scheme needs many recordings together (`can_stream` is False).
        """
        if not self.can_stream:
            others = " or ".join(f"normalize={k!r}" for k, c in SCHEMES.items() if c.can_stream)
            raise SerkitError(
                f"{where}: this model normalises features over many recordings together "
                f"(normalize={self.kind!r}), so it cannot predict a live stream; use a model trained "
                f"with {others}",
                params=("normalize",),
            )

    # -- adaptation -------------------------------------------------------------------------------
    def check_sample(self, X: np.ndarray) -> None:
        """Refuse an adaptation sample whose statistics would be degenerate.

        Args:
            X: The adaptation sample's feature rows, one per recording.

        Raises:
            DataError: fewer than MIN_ADAPT_FILES distinct feature vectors (copies of one recording), or a
                spread below MIN_ADAPT_SPREAD of the training data's (near-identical recordings): z-scoring
                with such statistics blows every later input up to one class at full confidence.
        """
        rows = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
        distinct = len(np.unique(rows, axis=0)) if len(rows) else 0
        if distinct < MIN_ADAPT_FILES:
            raise DataError(
                f"the adaptation recordings give only {distinct} distinct feature vector(s) among "
                f"{len(rows)}: they are copies of each other; adaptation needs at least "
                f"{MIN_ADAPT_FILES} different recordings"
            )
        if self.pooled is not None:
            ratio = float(np.median(rows.std(axis=0) / self.pooled.std.reshape(-1)))
            if ratio < MIN_ADAPT_SPREAD:
                raise DataError(
                    f"the adaptation recordings are near-identical: their feature spread is {ratio:.1%} "
                    f"of the training data's (at least {MIN_ADAPT_SPREAD:.0%} is needed); adapt on "
                    "varied recordings of the target domain"
                )

    def check_adaptable(self, where: str | Path | None = None) -> None:
        """SerkitError, before any work, when this scheme cannot be adapted (`where`: the bundle, for the message).

        Args:
            where: The bundle, for the message; None leaves it out.

        Raises:
            SerkitError: `can_adapt` is False.
        """
        if not self.can_adapt:
            prefix = f"{where}: " if where is not None else ""
            raise SerkitError(
                f"{prefix}this model was trained with normalize={self.kind!r}; only a model trained "
                f"with normalize={adaptable_normalization()} can be adapted",
                params=("normalize",),
            )

    def adapt(self, X: np.ndarray) -> Self:
        """A copy that normalises every input with the statistics of X (unlabelled rows of the target domain).

        Args:
            X: Feature rows of unlabelled recordings of the target domain.

        Returns:
            A new instance with `adapted` set; this one is unchanged.

        Raises:
            SerkitError: this scheme cannot be adapted.
            DataError: the sample is degenerate (see `check_sample`).
        """
        self.check_adaptable()
        self.check_sample(X)
        return dataclasses.replace(self, adapted=Stats.of(X))

    # -- the bundle's normalization.npz ------------------------------------------------------------
    def statistics(self) -> dict[str, Stats]:
        """What a bundle saves, by name.

        Returns:
            ``pooled`` and ``adapted``, where set.
        """
        return {name: st for name, st in (("pooled", self.pooled), ("adapted", self.adapted)) if st is not None}

    def to_bytes(self) -> bytes | None:
        """normalization.npz's bytes, or None for a scheme that saves nothing.

        Returns:
            The file's bytes, or None.
        """
        return save_stats(self.statistics()) if self.saves_statistics else None

    @classmethod
    def load(cls, source: str | Path | io.BytesIO | None, *, dim: int, where: str | Path = STATS_FILE) -> Self:
        """The prediction-time scheme from a bundle's normalization.npz (or its bytes).

        Args:
            source: The file or its bytes; None when the bundle has no such file.
            dim: Feature dimension the model reads: every mean and std must have it.
            where: The bundle folder, for messages.

        Returns:
            The scheme with the saved statistics (a fresh instance for a scheme that saves none).

        Raises:
            BundleError: missing, corrupt or ill-typed statistics, in one line naming the file and the array.
        """
        if not cls.saves_statistics:
            return cls()
        if source is None:
            raise BundleError(f"{where}: {STATS_FILE} missing (the model normalises with saved statistics)")
        stats = load_stats(source, ["pooled", "adapted"], dim=dim)
        if "pooled" not in stats:
            raise BundleError(
                f"{source if not isinstance(source, io.BytesIO) else where}: no pooled training statistics"
            )
        return cls(pooled=stats["pooled"], adapted=stats.get("adapted"))


SCHEMES: Registry[type[Normalizer]] = Registry("normalisation")  # the one registry pattern (serkit.registry)
S = TypeVar("S", bound=type[Normalizer])


def register(cls: S) -> S:
    """Make a scheme available under `cls.kind` (a class decorator).

    A scheme that a config names (`ExperimentConfig.normalize`) is also a member of the closed `Normalization`
    vocabulary in this module: a new built-in scheme is one class here and its member. A plug-in scheme
    registered at run time serves bundles and `Predictor`s built with it (`Predictor.with_normalizer`).

    Args:
        cls: The Normalizer subclass.

    Returns:
        The same class, so it can decorate the definition.

    Raises:
        ConfigError: a scheme of that kind is already registered.
    """
    SCHEMES.add(cls.kind, cls)
    return cls


def unregister(kind: str) -> None:
    """Remove a scheme `register` added (a plug-in's, or a test's throwaway one); an unknown kind is ignored.

    Args:
        kind: The scheme's `kind`.
    """
    SCHEMES.remove(kind)


def scheme(kind: Normalization | str) -> type[Normalizer]:
    """The class of a scheme by name.

    Args:
        kind: A `Normalization` member or a registered scheme's `kind`.

    Returns:
        The Normalizer subclass.

    Raises:
        UnknownNameError: no scheme has that name; the message lists the valid ones.
    """
    return SCHEMES.get(kind.value if isinstance(kind, Enum) else str(kind))


def adaptable_normalization() -> str:
    """The schemes that can be adapted, as a message names them: 'corpus'."""
    return " or ".join(repr(k) for k, c in SCHEMES.items() if c.can_adapt)


@register
@dataclasses.dataclass(frozen=True, eq=False)  # arrays: compared by identity
class NoNormalization(Normalizer):
    """Features reach the model as extracted."""

    kind: ClassVar[str] = Normalization.NONE.value
    label: ClassVar[str] = ""


@register
@dataclasses.dataclass(frozen=True, eq=False)  # arrays: compared by identity
class CorpusNormalization(Normalizer):
    """Each training corpus z-scored with its own statistics. A new domain uses adaptation statistics (from its
    unlabelled recordings) when given, else the pooled training statistics, so a single file still works."""

    kind: ClassVar[str] = Normalization.CORPUS.value
    label: ClassVar[str] = " + per-corpus normalisation"
    can_adapt: ClassVar[bool] = True
    saves_statistics: ClassVar[bool] = True

    @classmethod
    def fit(cls, X, *, speakers, domains, n_originals):
        X_train, groups = normalise_training(X, domains, n_originals)
        return X_train, cls(groups=groups, pooled=Stats.of(X[:n_originals]))

    def transform_test(self, X, *, speakers, domains, adaptation=None):
        # A training corpus keeps its training statistics; an unseen one uses its adaptation rows, else pooled.
        stats: dict[Hashable, Stats] = {}
        for d in dict.fromkeys(np.asarray(domains).tolist()):
            st = self.groups.get(d) or (
                self.adapt(adaptation[d]).adapted if adaptation and d in adaptation else self.pooled
            )
            assert st is not None, "CorpusNormalization used before fit or load"
            stats[d] = st
        return apply_groups(X, domains, stats)

    def transform(self, X, *, whole_batch):
        stats = self.adapted or self.pooled
        assert stats is not None, "CorpusNormalization used before fit or load"
        return stats.apply(X)


@register
@dataclasses.dataclass(frozen=True, eq=False)  # arrays: compared by identity
class SpeakerNormalization(Normalizer):
    """Each speaker z-scored with that speaker's own files (transductive): prediction needs a batch of at least
    MIN_SPEAKER_FILES recordings of one speaker, so it cannot stream, resume, or be adapted."""

    kind: ClassVar[str] = Normalization.SPEAKER.value
    label: ClassVar[str] = " + per-speaker normalisation"
    can_stream: ClassVar[bool] = False
    per_batch: ClassVar[bool] = True
    needs_speakers: ClassVar[bool] = True

    @classmethod
    def fit(cls, X, *, speakers, domains, n_originals):
        X_train, groups = normalise_training(X, speakers, n_originals)
        return X_train, cls(groups=groups)

    def transform_test(self, X, *, speakers, domains, adaptation=None):
        return apply_groups(X, speakers, by_group(X, speakers))

    def transform(self, X, *, whole_batch):
        if not whole_batch or len(X) < MIN_SPEAKER_FILES:
            raise SerkitError(
                f"this model normalises features per speaker: predict at least {MIN_SPEAKER_FILES} recordings of "
                "one speaker together (predict_files on a folder), or use a model trained without "
                "normalize='speaker'",
                params=("normalize",),
            )
        return Stats.of(X).apply(X)


def statistics_spec(normalizer: Normalizer) -> tuple[str, bytes]:
    """A hashable, picklable form of a prediction-time scheme (for worker processes): its kind and its npz bytes."""
    return normalizer.kind, normalizer.to_bytes() or b""


def from_spec(spec: tuple[str, bytes], *, dim: int) -> Normalizer:
    """The scheme `statistics_spec` described."""
    kind, data = spec
    return scheme(kind).load(io.BytesIO(data) if data else None, dim=dim)
