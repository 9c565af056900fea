"""Extraction over many files: cache first, then one single-threaded worker process per core."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from serkit.errors import AudioError
from serkit.features.base import FeatureExtractor, get_extractor
from serkit.features.cache import FeatureCache

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS", "CT2_INTRA_THREADS")


_LIMITED = False


def limit_threads() -> None:
    """One thread per worker: parallel workers that each spawn N threads fight over 2 cores."""
    global _LIMITED
    import sys

    if _LIMITED and "torch" not in sys.modules:
        return
    _LIMITED = True
    for var in _THREAD_VARS:
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
    features: dict[str, list[np.ndarray | None]]
    failed: dict[int, str] = field(default_factory=dict)  # item index -> reason
    from_cache: int = 0
    computed: int = 0

    def stacked(self, name: str, keep: Sequence[int] | None = None) -> np.ndarray:
        items = self.features[name]
        idx = keep if keep is not None else [i for i in range(len(items)) if i not in self.failed]
        return np.stack([items[i] for i in idx])


@lru_cache(maxsize=16)
def _extractor(name: str, config_items: tuple) -> FeatureExtractor:
    return get_extractor(name, dict(config_items))


def _spec(ex: FeatureExtractor) -> tuple[str, tuple]:
    """A hashable (name, config) that worker processes rebuild the extractor from (lists become tuples)."""
    return ex.name, tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in ex.config_dict().items()))


def _compute(path: str, variant: Variant | None, specs: Sequence[tuple[str, tuple]]) -> dict[str, np.ndarray]:
    return _compute_with(path, variant, [_extractor(name, cfg) for name, cfg in specs])


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


def _work(batch: list[tuple[int, str, Variant | None]], specs: list[tuple[str, tuple]]) -> list[tuple[int, Any]]:
    limit_threads()
    out: list[tuple[int, Any]] = []
    for idx, path, variant in batch:
        try:
            out.append((idx, _compute(path, variant, specs)))
        except AudioError as exc:
            out.append((idx, exc.problem))
    return out


def _content_key(file_hash: str, variant: Variant | None) -> str:
    if variant is None:
        return file_hash
    return hashlib.sha256(f"{file_hash}|{variant.tag()}".encode()).hexdigest()


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def extract_features(
    paths: Sequence[str],
    names: Sequence[str] | Sequence[FeatureExtractor],
    *,
    cache: FeatureCache | None = None,
    variants: Sequence[Variant | None] | None = None,
    workers: int | None = None,
    progress: bool = True,
    desc: str = "features",
) -> ExtractionResult:
    """Features for every path (and augmentation variant), served from cache where possible."""
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
            for name, v in hits.items():
                result.features[name][i] = v
            result.from_cache += 1
        else:
            todo.append((i, path, variant))
    if cache is not None:
        cache.save_index()
    if not todo:
        return result

    specs = [_spec(ex) for ex in extractors]
    n_workers = min(workers or default_workers(), max(1, len(todo) // 4))
    bar = _progress(len(todo), desc, progress)

    def store(done: list[tuple[int, Any]]) -> None:
        for idx, value in done:
            if isinstance(value, str):
                result.failed[idx] = value
            else:
                for ex in extractors:
                    result.features[ex.name][idx] = value[ex.name]
                    if cache is not None:
                        cache.put(ex_keys[ex.name], keys[idx], value[ex.name])
                result.computed += 1
        bar.update(len(done))

    try:
        if n_workers <= 1:
            # In-process: the caller's own extractor instances (e.g. one running its encoder in onnxruntime).
            for idx, path, variant in todo:
                try:
                    store([(idx, _compute_with(path, variant, extractors))])
                except AudioError as exc:
                    store([(idx, exc.problem)])
        else:
            chunk = max(1, min(16, len(todo) // (n_workers * 8) or 1))
            batches = [todo[k : k + chunk] for k in range(0, len(todo), chunk)]
            from serkit.parallel import parallel_map

            for done in parallel_map(_work, [(b, specs) for b in batches], n_jobs=n_workers):
                store(done)
    finally:
        bar.close()
    return result


def _progress(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="file", disable=not enabled, leave=False, dynamic_ncols=True)
