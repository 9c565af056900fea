"""One way to run work in parallel: joblib's loky workers, one thread each.

Every parallel step (feature extraction, CV folds) goes through here with the same
settings, so the worker pool is reused instead of restarted between steps (a restart
costs each worker its imports, seconds), and N workers never run N x M threads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any


def parallel_map(fn: Callable[..., Any], arg_tuples: Iterable[tuple], *, n_jobs: int) -> Iterator[Any]:
    """fn(*args) for each args tuple, results in order, yielded as they complete in order."""
    from joblib import Parallel, delayed

    run = Parallel(n_jobs=n_jobs, backend="loky", return_as="generator", inner_max_num_threads=1)
    return run(delayed(fn)(*args) for args in arg_tuples)
