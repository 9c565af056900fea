"""Domain normalisation of feature rows: the one implementation of per-corpus and per-speaker z-scoring.

A domain (a corpus, a speaker, a user's recordings) is z-scored with the mean and standard
deviation of its own feature rows; labels are never used. Statistics of a new domain come
from its unlabelled recordings (unsupervised adaptation) or, when there are none, from the
pooled training data, so a single file can still be normalised.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Hashable, Sequence

import numpy as np

from serkit.errors import BundleError

MIN_ADAPT_FILES = 10  # fewer unlabelled recordings give statistics too noisy to trust
EPS = 1e-6


@dataclasses.dataclass(frozen=True)
class Stats:
    """Mean and standard deviation of feature rows (axis 0), and how many rows they came from."""

    mean: np.ndarray
    std: np.ndarray
    n: int

    @classmethod
    def of(cls, X: np.ndarray) -> "Stats":
        X = np.asarray(X, dtype=np.float64)
        return cls(X.mean(axis=0), X.std(axis=0) + EPS, int(len(X)))

    def apply(self, X: np.ndarray) -> np.ndarray:
        return ((np.asarray(X, dtype=np.float64) - self.mean) / self.std).astype(np.float32)

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}_mean": self.mean, f"{prefix}_std": self.std, f"{prefix}_n": np.asarray(self.n)}

    @classmethod
    def from_arrays(cls, arrays, prefix: str) -> "Stats":
        return cls(np.asarray(arrays[f"{prefix}_mean"]), np.asarray(arrays[f"{prefix}_std"]),
                   int(arrays[f"{prefix}_n"]))


def by_group(X: np.ndarray, groups: Sequence[Hashable]) -> dict[Hashable, Stats]:
    g = np.asarray(groups, dtype=object)
    return {k: Stats.of(X[g == k]) for k in dict.fromkeys(g.tolist())}


def apply_groups(X: np.ndarray, groups: Sequence[Hashable], stats: dict[Hashable, Stats]) -> np.ndarray:
    """Each row z-scored with its group's statistics."""
    g = np.asarray(groups, dtype=object)
    out = np.empty(X.shape, dtype=np.float32)
    for k, st in stats.items():
        rows = g == k
        out[rows] = st.apply(X[rows])
    return out


def normalise_training(X: np.ndarray, groups: Sequence[Hashable], n_originals: int
                       ) -> tuple[np.ndarray, dict[Hashable, Stats]]:
    """Training rows z-scored per group (corpus or speaker) with statistics of the first `n_originals` rows
    (the original files; augmented copies after them are normalised, never counted)."""
    g = np.asarray(groups, dtype=object)
    stats = by_group(X[:n_originals], g[:n_originals])
    return apply_groups(X, g, stats), stats


def save_stats(stats: dict[str, Stats]) -> bytes:
    """npz bytes (no pickle) of named statistics."""
    arrays: dict[str, np.ndarray] = {}
    for name, st in stats.items():
        arrays.update(st.to_arrays(name))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def load_stats(path, names: Sequence[str], *, dim: int | None = None) -> dict[str, Stats]:
    """Named statistics from an npz file; BundleError when the file is missing, corrupt or of the wrong size."""
    import zipfile

    try:
        with np.load(path, allow_pickle=False) as z:
            out = {n: Stats.from_arrays(z, n) for n in names if f"{n}_mean" in z.files}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise BundleError(f"{path}: corrupt normalisation statistics ({str(exc).splitlines()[0]})") from None
    for n, st in out.items():
        if st.mean.shape != st.std.shape or (dim is not None and st.mean.size != dim) \
                or not (np.all(np.isfinite(st.mean)) and np.all(st.std > 0)):
            raise BundleError(f"{path}: normalisation statistics {n!r} do not fit this model")
    return out
