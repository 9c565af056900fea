"""How a Predictor's work on many files is cut into batches and run: in this process, on the local worker pool,
or on a caller's executor (a Dask cluster included), each worker rebuilding the Predictor once.

Kept apart from `inference` so that the Predictor only predicts: this module knows executors, batch sizes and
worker processes, and nothing of models or normalisation beyond what a `WorkerSpec` carries.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from typing import Any, Protocol, TypeVar

from serkit.validation import check_range

R = TypeVar("R")


class BatchPredictor(Protocol[R]):
    """What a worker process needs of the model it rebuilds: one batch of files in, one result per file out."""

    def predict_batch(self, files: Sequence[str], *, segment: bool | None = None) -> list[R]: ...


@dataclasses.dataclass(frozen=True)
class WorkerSpec:
    """What a worker process rebuilds a Predictor from: hashable and picklable, so a worker keeps one Predictor
    per spec for every later batch.

    Attributes:
        build: Rebuilds the Predictor from this spec (a classmethod of the Predictor: pickled by name).
        path: The bundle folder.
        backend: "onnx" or "native".
        min_confidence: As the Predictor was made with.
        normalization: The normalisation scheme and its statistics as npz bytes (`adapt` may have replaced them in
            memory, so they are sent rather than read from the bundle).
    """

    build: Callable[[WorkerSpec], Any]
    path: str
    backend: str
    min_confidence: float
    normalization: tuple[str, bytes]


@lru_cache(maxsize=4)
def worker_predictor(spec: WorkerSpec) -> Any:
    """One Predictor per worker process and spec, built on its first batch and reused for every later one."""
    from serkit.features.extract import limit_threads

    limit_threads()
    return spec.build(spec)


def predict_on_worker(files: list[str], spec: WorkerSpec, segment: bool | None) -> list[Any]:
    return worker_predictor(spec).predict_batch(files, segment=segment)


def run_predictions(
    predictor: BatchPredictor[R],
    files: list[str],
    *,
    spec: Callable[[], WorkerSpec],
    lost: Callable[[str, str], R],
    whole_batch: bool,
    in_process: bool,
    progress: bool,
    segment: bool | None,
    batch_size: int,
    workers: int | None,
    executor: Any,
) -> Iterator[tuple[int, R]]:
    """(position in files, result) as batches complete, on one executor whatever runs them.

    Args:
        predictor: Predicts a batch in this process.
        files: The files, expanded.
        spec: Makes what workers rebuild the predictor from (called only when work leaves this process).
        lost: The result for a file whose worker died.
        whole_batch: Predict every file in one batch (a normalisation with statistics of the whole batch).
        in_process: Keep the work in this process unless an executor is given (an ONNX model starts at once;
            workers would each load it).
        progress: Show a progress bar.
        segment: As `Predictor.predict_file`.
        batch_size: Files per batch at most.
        workers: Size of the local pool (default: one per core for 16 files or more).
        executor: A concurrent.futures.Executor or a dask.distributed Client, instead of the local pool.

    Raises:
        ConfigError: batch_size out of range.
    """
    from tqdm.auto import tqdm

    from serkit.features.extract import default_workers
    from serkit.parallel import InlineExecutor, as_executor, local_executor, run_batches

    check_range("batch_size", batch_size, 1, 100_000)
    if not files:
        return
    if executor is not None:
        pool, n_workers = as_executor(executor)
    else:
        n_workers = workers if workers is not None else (default_workers() if len(files) >= 16 else 1)
        if in_process:
            n_workers = 1
        pool = local_executor(n_workers) if n_workers > 1 else InlineExecutor()
    size = len(files) if whole_batch else max(1, min(batch_size, len(files) // (4 * n_workers)))
    batches = [list(range(k, min(k + size, len(files)))) for k in range(0, len(files), size)]
    payloads = [[files[i] for i in b] for b in batches]
    fn: Callable[..., list[R]]
    args: tuple[Any, ...]
    if isinstance(pool, InlineExecutor):
        fn, args = _in_process(predictor), (segment,)
    else:
        fn, args = predict_on_worker, (spec(), segment)
    with tqdm(
        total=len(files), desc="predict", unit="file", disable=not progress, leave=False, dynamic_ncols=True
    ) as bar:
        for k, predictions in run_batches(fn, payloads, executor=pool, args=args, lost=lost):
            yield from zip(batches[k], predictions, strict=True)
            bar.update(len(predictions))


def _in_process(predictor: BatchPredictor[R]) -> Callable[[list[str], bool | None], list[R]]:
    def predict(files: list[str], segment: bool | None) -> list[R]:
        return predictor.predict_batch(files, segment=segment)

    return predict
