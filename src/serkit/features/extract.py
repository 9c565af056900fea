"""Extraction over many files: cache first, then batches of files on an executor (the local pool of one
single-threaded process per core, a Dask cluster, or the caller's own), each worker building its extractors once."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, cast

import numpy as np

from serkit.errors import AudioError
from serkit.features.base import FeatureExtractor, get_extractor
from serkit.features.cache import FeatureCache
from serkit.parallel import THREAD_VARS, relax_malloc_trim

_LIMITED = False


def limit_threads() -> None:
    """One thread per worker: parallel workers that each spawn N threads fight over 2 cores (and, in a Dask
    worker, glibc's allocator back to its own limits)."""
    global _LIMITED
    import sys

    if _LIMITED and "torch" not in sys.modules:
        return
    relax_malloc_trim()
    _LIMITED = True
    for var in THREAD_VARS:
        os.environ[var] = "1"
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover
        pass
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


@dataclass(frozen=True)
class Variant:
    """An augmented copy of a file: which augmentations, which copy, which seed."""

    augment: str
    copy: int
    seed: int

    def tag(self) -> str:
        return f"{self.augment}#{self.copy}@{self.seed}"


@dataclass
class ExtractionResult:
    """What `extract_features` returns: the features of every item that could be read.

    Attributes:
        features: Feature set name -> one array per item (None for a failed item).
        failed: Item index -> why it failed (one line).
        from_cache: How many items came from the cache.
        computed: How many items were computed.
    """

    features: dict[str, list[np.ndarray | None]]
    failed: dict[int, str] = field(default_factory=dict)  # item index -> reason
    from_cache: int = 0
    computed: int = 0

    def stacked(self, name: str, keep: Sequence[int] | None = None) -> np.ndarray:
        """One feature set's arrays stacked into one.

        Args:
            name: The feature set.
            keep: The item indices to stack; None: every item that did not fail.

        Returns:
            An array with one row (first axis) per kept item.
        """
        items = self.features[name]
        idx = keep if keep is not None else [i for i in range(len(items)) if i not in self.failed]
        # Only failed items are None; callers stack the others (the default skips the failed).
        return np.stack(cast(list[np.ndarray], [items[i] for i in idx]))


@lru_cache(maxsize=16)
def _extractor(name: str, config_items: tuple, onnx_folder: str | None = None) -> FeatureExtractor:
    ex = get_extractor(name, dict(config_items))
    if onnx_folder is not None:
        ex.use_onnx(onnx_folder)  # as in the caller's process: no torch on the worker either
    return ex


def _spec(ex: FeatureExtractor) -> tuple[str, tuple, str | None]:
    """A hashable (name, config, ONNX folder) that worker processes rebuild the extractor from (lists become
    tuples); the folder is set when the caller's extractor runs from exported ONNX files."""
    config = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in ex.config_dict().items()))
    return ex.name, config, ex.onnx_folder


def _compute_with(path: str, variant: Variant | None, extractors: Sequence[FeatureExtractor]) -> dict[str, np.ndarray]:
    from serkit import audio

    signal = audio.load(path)
    if variant is None:
        return {ex.name: ex.extract(signal) for ex in extractors}
    from serkit.augment import Augmentation, apply_augmentations, parse_augmentations, rng_for, spec_augment
    from serkit.features.base import FeatureKind

    signal = apply_augmentations(signal, variant.augment, seed=variant.seed, copy=variant.copy)
    masked = Augmentation.SPECAUGMENT in parse_augmentations(variant.augment)
    out = {}
    for ex in extractors:
        name = ex.name
        value = ex.extract(signal)
        if masked and ex.kind is FeatureKind.MATRIX:
            value = spec_augment(value, rng_for(signal, variant.augment, variant.seed, variant.copy))
        out[name] = value
    return out


def _work(
    batch: list[tuple[int, str, Variant | None]], specs: list[tuple[str, tuple, str | None]]
) -> list[tuple[int, Any]]:
    """One batch on a worker: extractors rebuilt from their specs once per process (cached), then reused."""
    limit_threads()
    return _work_with(batch, [_extractor(*spec) for spec in specs])


def _work_with(
    batch: list[tuple[int, str, Variant | None]], extractors: Sequence[FeatureExtractor]
) -> list[tuple[int, Any]]:
    """(index, features) per item, or (index, reason) for a file that cannot be used: never a failed batch."""
    out: list[tuple[int, Any]] = []
    for idx, path, variant in batch:
        try:
            out.append((idx, _compute_with(path, variant, extractors)))
        except AudioError as exc:
            out.append((idx, exc.problem))
    return out


def _lost(item: tuple[int, str, Variant | None], reason: str) -> tuple[int, str]:
    return item[0], reason


def _content_key(file_hash: str, variant: Variant | None) -> str:
    if variant is None:
        return file_hash
    return hashlib.sha256(f"{file_hash}|{variant.tag()}".encode()).hexdigest()


def default_workers() -> int:
    from serkit.parallel import cpu_count

    return cpu_count()


def extract_features(
    paths: Sequence[str],
    names: Sequence[str] | Sequence[FeatureExtractor],
    *,
    cache: FeatureCache | None = None,
    variants: Sequence[Variant | None] | None = None,
    workers: int | None = None,
    executor: Any = None,
    progress: bool = True,
    desc: str = "features",
    keep: bool = True,
) -> ExtractionResult:
    """Features for every path (and augmentation variant), served from cache where possible.

    The rest runs in batches on `executor` (any concurrent.futures.Executor, or a dask.distributed Client:
    files are then read by path on its workers) or else on the local pool of `workers` processes (one per
    core by default; one means in this process, with the caller's own extractor instances). Results are
    cached as each batch arrives, so an interrupted run loses at most the batches in flight. `keep=False`
    only fills the cache (memory stays flat however many files).

    Args:
        paths: The audio files.
        names: Feature set names (``spectral_stats``) or configured FeatureExtractor instances.
        cache: The feature cache to read and fill; None computes everything.
        variants: One augmentation Variant (or None for the original) per path; None: all originals.
        workers: Size of the local process pool; None: one per core.
        executor: A concurrent.futures.Executor or a dask.distributed Client to run the batches on.
        progress: Show a progress bar.
        desc: The progress bar's label.
        keep: Return the features (False: only fill the cache).

    Returns:
        The features per extractor and item, the items that failed and why, and the cache hit counts.

    Raises:
        UnknownNameError: a feature set name is not registered.
        MissingExtraError: a feature set needs an extra that is not installed.
    """
    from serkit.parallel import InlineExecutor, as_executor, local_executor, run_batches

    extractors = [n if isinstance(n, FeatureExtractor) else get_extractor(n) for n in names]
    variants = list(variants) if variants is not None else [None] * len(paths)
    result = ExtractionResult({ex.name: [None] * len(paths) for ex in extractors})
    todo: list[tuple[int, str, Variant | None]] = []
    keys: dict[int, str] = {}
    ex_keys = {ex.name: ex.key() for ex in extractors}
    for i, (path, variant) in enumerate(zip(paths, variants, strict=True)):
        if cache is None:
            todo.append((i, path, variant))
            continue
        try:
            key = _content_key(cache.content_hash(path), variant)
        except OSError as exc:
            result.failed[i] = f"unreadable: {exc.strerror or exc}"
            continue
        keys[i] = key
        hits = {name: cache.get(k, key) for name, k in ex_keys.items()}
        if all(v is not None for v in hits.values()):
            if keep:
                for name, v in hits.items():
                    result.features[name][i] = v
            result.from_cache += 1
        else:
            todo.append((i, path, variant))
    if cache is not None:
        cache.save_index()
    if not todo:
        return result

    fn: Callable[..., list[tuple[int, Any]]]
    args: tuple
    if executor is not None:
        pool, n_workers = as_executor(executor)
        fn, args = _work, ([_spec(ex) for ex in extractors],)
    else:
        n_workers = min(workers or default_workers(), max(1, len(todo) // 4))
        if n_workers > 1:
            pool, fn, args = local_executor(n_workers), _work, ([_spec(ex) for ex in extractors],)
        else:
            # In this process: the caller's own extractor instances (e.g. one running its encoder in onnxruntime).
            pool, fn, args = InlineExecutor(), _work_with, (extractors,)
    chunk = max(1, min(16, len(todo) // (n_workers * 8) or 1))
    batches = [todo[k : k + chunk] for k in range(0, len(todo), chunk)]
    bar = _progress(len(todo), desc, progress)
    try:
        for _, done in run_batches(fn, batches, executor=pool, args=args, lost=_lost):
            for idx, value in done:
                if isinstance(value, str):
                    result.failed[idx] = value
                    continue
                for ex in extractors:
                    if keep:
                        result.features[ex.name][idx] = value[ex.name]
                    if cache is not None:
                        cache.put(ex_keys[ex.name], keys[idx], value[ex.name])
                result.computed += 1
            bar.update(len(done))
    finally:
        bar.close()
    return result


def _progress(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="file", disable=not enabled, leave=False, dynamic_ncols=True)
