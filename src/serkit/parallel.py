"""One way to run work in parallel: batches submitted to an executor, collected as they complete.

The executor is the built-in local pool (loky's reusable process pool, one thread per worker), a Dask
cluster (`--scheduler ADDRESS` or `--scheduler local[:N]`), or any `concurrent.futures.Executor` a caller
brings. The work is the same function whichever it is, so a cluster computes exactly what the local pool
does. Pools and cluster clients are kept for the rest of the process: a worker keeps its imports, feature
extractors and model between steps instead of paying for them again.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future
from typing import Any

# One thread per worker: N workers that each spawn M threads fight over N cores.
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS", "CT2_INTRA_THREADS")
CONNECT_TIMEOUT = 5.0  # seconds to reach a --scheduler address before giving up with a one-line error
IDLE_WORKER_SECONDS = 300  # the local pool's workers outlive one step (features, then folds)
LOCAL = "local"
_ADDRESS = re.compile(r"^(?:[a-z]+://)?(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+)(?::\d{1,5})?$")


def cpu_count() -> int:
    """The cores this process may run on (its CPU affinity, e.g. under taskset or a container's cpuset), the
    one count behind every default of workers, cluster size and server concurrency."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@dataclasses.dataclass(frozen=True)
class Scheduler:
    """Where batches run: a running Dask scheduler's address, or a local cluster of `workers` processes."""

    address: str | None = None  # tcp://10.0.0.5:8786
    workers: int | None = None  # local:N (None with an address)

    @property
    def local(self) -> bool:
        return self.address is None

    @classmethod
    def parse(cls, text: str) -> Scheduler:
        """`local`, `local:4`, `tcp://10.0.0.5:8786` or `10.0.0.5:8786`; anything else is a one-line error."""
        from serkit.errors import ConfigError
        from serkit.validation import Bound

        s = str(text).strip()
        if s == LOCAL or s.startswith(LOCAL + ":"):
            try:
                n = Bound(int, 1, 1024).parse(s[len(LOCAL) + 1 :] or str(cpu_count()))
            except ValueError as exc:
                raise ConfigError(f"scheduler='local:N': the number of workers {exc}", params=("scheduler",)) from None
            return cls(None, int(n))
        if not _ADDRESS.match(s):
            raise ConfigError(
                f"scheduler must be the address of a Dask cluster (tcp://HOST:PORT) or local[:N], got {text!r}",
                params=("scheduler",),
            )
        return cls(s, None)

    def __str__(self) -> str:
        return f"{LOCAL}:{self.workers}" if self.local else str(self.address)


_CLIENTS: dict[str, Any] = {}


def connect(scheduler: str | Scheduler, *, announce: bool = True) -> Any:
    """A dask.distributed Client for `scheduler`, made once per process and reused (a local cluster starts
    once). An address that does not answer within CONNECT_TIMEOUT seconds is a one-line SerkitError."""
    spec = scheduler if isinstance(scheduler, Scheduler) else Scheduler.parse(scheduler)
    key = str(spec)
    if key in _CLIENTS:
        return _CLIENTS[key]
    import atexit

    from serkit.extras import require

    require("dask", "a Dask scheduler (scheduler=ADDRESS)")
    import dask
    from distributed import Client

    from serkit.errors import SerkitError

    if spec.address is None:  # spec.local
        from distributed import LocalCluster

        # No statistical profiler in the workers: it samples every 10 ms for a dashboard page that needs bokeh.
        with dask.config.set({"distributed.worker.profile.enabled": False}):
            cluster = LocalCluster(
                n_workers=spec.workers, threads_per_worker=1, processes=True, env={v: "1" for v in THREAD_VARS}
            )
        client = Client(cluster)
        if announce:
            import importlib.util

            note = "" if importlib.util.find_spec("bokeh") else " (the dashboard needs bokeh>=3.1: pip install bokeh)"
            print(
                f"serkit: local Dask cluster of {spec.workers} worker(s); dashboard {client.dashboard_link}{note}",
                file=sys.stderr,
            )
    else:
        try:
            _handshake(spec.address, CONNECT_TIMEOUT)
            with dask.config.set({"distributed.comm.timeouts.connect": f"{CONNECT_TIMEOUT}s"}):
                client = Client(spec.address, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError, ValueError) as exc:
            why = " ".join(str(exc).split()) or type(exc).__name__
            raise SerkitError(
                f"scheduler={spec.address!r}: no answer from a Dask cluster within {CONNECT_TIMEOUT:g} s ({why})",
                params=("scheduler",),
            ) from None
        if announce and not client.scheduler_info().get("workers"):
            print(
                f"serkit: the scheduler at {spec.address} has no workers yet; the work waits until some join",
                file=sys.stderr,
            )
    _CLIENTS[key] = client
    if len(_CLIENTS) == 1:
        atexit.register(close_clients)
    return client


def _handshake(address: str, timeout: float) -> None:
    """Open a connection to `address` and exchange Dask's handshake, all within `timeout` (+0.5) seconds.

    distributed's Client bounds the TCP connect but then waits for the scheduler's handshake without a
    limit, so a listener that accepts and says nothing (a wrong port, a stuck proxy) would hang the run
    for ever. Raises TimeoutError or OSError; runs in a thread of its own, so that it works whether or
    not the caller's thread has an event loop running.
    """
    import asyncio
    import concurrent.futures

    from distributed.comm import connect as comm_connect

    async def exchange() -> None:
        comm = await comm_connect(address, timeout=timeout)
        await comm.close()

    def run() -> None:
        try:  # half a second more than the connect's own limit: an address that never connects says so itself
            asyncio.run(asyncio.wait_for(exchange(), timeout + 0.5))
        except TimeoutError:  # asyncio's (the same class since Python 3.11): the handshake did not come
            raise TimeoutError("the address accepted the connection, then said nothing") from None

    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="serkit-handshake") as pool:
        pool.submit(run).result()


def relax_malloc_trim() -> None:
    """Undo, in a worker process, what Dask's nanny sets for memory trimming (MALLOC_TRIM_THRESHOLD_=65536).

    With it glibc hands freed memory back at once and serves every allocation over 128 KiB with a fresh
    mmap, so an encoder that allocates and frees megabyte tensors for every file spends its time in page
    faults: 35 instead of 21 ms of CPU per file for whisper_encoder features in a 2-worker LocalCluster
    (measured with and without it; benchmarks/scale.py shows what remains of the gap). glibc's
    own limits for a 64-bit process (32 MiB mmap threshold) come back; a worker keeps at most 64 MiB it freed.
    """
    global _MALLOC_RELAXED
    if _MALLOC_RELAXED or "MALLOC_TRIM_THRESHOLD_" not in os.environ or not sys.platform.startswith("linux"):
        return
    _MALLOC_RELAXED = True
    libc = _glibc()
    if libc is not None:
        libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20)
        libc.mallopt(_M_TRIM_THRESHOLD, 64 << 20)


_MALLOC_RELAXED = False


def release_freed_memory() -> None:
    """Hand memory freed by this process back to the system (glibc's malloc_trim; nothing elsewhere).

    glibc keeps freed blocks for reuse, in every thread's arena: after a large refused upload was
    decoded block by block, a server would go on holding tens of MB it no longer uses.
    """
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


@functools.cache
def _glibc() -> Any:
    """glibc, loaded once for its allocator controls (mallopt, malloc_trim); None elsewhere (not Linux, or
    another C library)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt, libc.malloc_trim  # noqa: B018 - both exist in glibc only
    except (OSError, AttributeError):
        return None
    return libc


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)


def close_clients() -> None:
    """Close the clients (and local clusters) `connect` made; they are made again on the next use."""
    while _CLIENTS:
        _, client = _CLIENTS.popitem()
        cluster = getattr(client, "cluster", None)
        client.close()
        if cluster is not None:
            cluster.close()


def local_executor(workers: int) -> Executor:
    """The built-in local pool: `workers` single-threaded processes, reused by every later step.

    Each worker watches its parent (`watch_parent`), so none outlives the run, however it ends.
    """
    global _LOCAL_POOL
    from joblib.externals.loky import get_reusable_executor

    _LOCAL_POOL = get_reusable_executor(
        max_workers=workers, timeout=IDLE_WORKER_SECONDS, env={v: "1" for v in THREAD_VARS}, initializer=watch_parent
    )
    return _LOCAL_POOL


_LOCAL_POOL: Executor | None = None
PARENT_POLL_SECONDS = 0.2  # how often a local worker checks that its parent is still there


def watch_parent() -> None:
    """In a local pool worker (its initializer): exit as soon as the parent process is gone.

    A parent killed with SIGKILL (or by the OOM killer) runs no clean-up, and loky's workers would
    otherwise wait out their idle time-out (minutes, holding hundreds of MB each). A daemon thread
    polls the parent pid: when the worker is re-parented, it ends the process at once.
    """
    import threading
    import time

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="serkit-watch-parent", daemon=True).start()


def stop_local_workers() -> None:
    """Kill the local pool's workers now, mid-task if need be (a run interrupted or terminated).

    The workers are killed directly: loky then finds its pool broken and winds it down, failing the
    futures still pending. (``shutdown(kill_workers=True)`` would instead trip over futures the run has
    just cancelled while unwinding, kill its own manager thread with a traceback, and leave the workers
    and their resource tracker to hold the process's exit.)
    """
    global _LOCAL_POOL
    pool, _LOCAL_POOL = _LOCAL_POOL, None
    if pool is None:
        return
    workers = list(getattr(pool, "_processes", {}).values())  # loky's own table: no public accessor
    import signal

    for worker in workers:
        try:
            os.kill(worker.pid, signal.SIGKILL)
        except (OSError, TypeError):  # gone already, or never started
            pass
    for worker in workers:
        worker.join(timeout=1.0)
    pool.shutdown(wait=True)


class InlineExecutor(Executor):
    """Runs each call at once in this process: one worker, no pickling, the caller's own objects — and one
    BLAS thread, like every pool or cluster worker, so that the same file gives bit-identical features
    wherever it is computed (multi-threaded BLAS sums in another order)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        from threadpoolctl import threadpool_limits

        future: Future = Future()
        try:
            with threadpool_limits(1):
                future.set_result(fn(*args, **kwargs))
        except Exception as exc:
            future.set_exception(exc)
        return future


def as_executor(executor: Any) -> tuple[Executor, int]:
    """A concurrent.futures Executor and its number of workers, from an Executor or a dask.distributed Client
    (whose own futures are not concurrent.futures ones: its `get_executor()` wraps them)."""
    if not isinstance(executor, Executor) and callable(getattr(executor, "get_executor", None)):
        info = executor.scheduler_info()
        return executor.get_executor(pure=False), max(1, len(info.get("workers", {})))
    if not isinstance(executor, Executor):
        raise TypeError(
            f"executor must be a concurrent.futures.Executor or a dask.distributed.Client, "
            f"got {type(executor).__name__}"
        )
    if isinstance(executor, InlineExecutor):
        return executor, 1
    n = getattr(executor, "_max_workers", None)  # ProcessPoolExecutor's and loky's; a guess for window sizes only
    return executor, n if isinstance(n, int) and n > 0 else cpu_count()


def run_batches(
    fn: Callable[..., list],
    batches: Sequence[list],
    *,
    executor: Any,
    args: tuple = (),
    lost: Callable[[Any, str], Any] | None = None,
    window: int | None = None,
) -> Iterator[tuple[int, list]]:
    """fn(batch, *args) for every batch on `executor`; yields (batch number, result) as each completes.

    `fn` returns one entry per item of its batch. At most `window` batches are in flight, so results never
    pile up on the client. A worker that dies is Dask's to handle: it re-runs the work elsewhere. Only when a
    batch has killed more workers than Dask retries it (KilledWorker) is it split into one-item batches,
    each then run alone on the cluster; an item that still kills its worker when alone is the culprit and
    gets `lost(item, reason)` as its entry. One poisonous file fails alone, never its batch or the run.
    """
    from concurrent.futures import FIRST_COMPLETED, wait

    pool, n_workers = as_executor(executor)
    window = 1 if isinstance(pool, InlineExecutor) else window or max(8, 4 * n_workers)
    # (batch number, position within a split batch or None, items), taken from the end.
    todo: list[tuple[int, int | None, list]] = [(k, None, list(b)) for k, b in reversed(list(enumerate(batches)))]
    suspects: list[tuple[int, int | None, list]] = []  # one-item batches to run alone, one at a time
    pending: dict[Any, tuple[int, int | None, list, bool]] = {}
    pieces: dict[int, list] = {}  # a split batch: its one-item results so far

    def submit() -> None:
        if suspects:
            if not pending:  # the cluster is drained: this item runs alone, so a death is its own doing
                k, j, batch = suspects.pop()
                pending[pool.submit(fn, batch, *args)] = (k, j, batch, True)
            return
        while todo and len(pending) < window:
            k, j, batch = todo.pop()
            pending[pool.submit(fn, batch, *args)] = (k, j, batch, False)

    try:
        submit()
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                k, j, batch, alone = pending.pop(future)
                try:
                    result = future.result()
                except Exception as exc:
                    if lost is None or not _worker_lost(exc):
                        raise
                    if j is None and len(batch) > 1:
                        pieces[k] = [_MISSING] * len(batch)
                        suspects.extend((k, i, [item]) for i, item in reversed(list(enumerate(batch))))
                        continue
                    if not alone:
                        suspects.append((k, j, batch))
                        continue
                    result = [lost(batch[0], f"its worker died while processing it ({type(exc).__name__})")]
                if j is None:
                    yield k, result
                    continue
                pieces[k][j] = result[0]
                if all(p is not _MISSING for p in pieces[k]):
                    yield k, pieces.pop(k)
            submit()
    finally:
        for future in pending:
            future.cancel()


_MISSING = object()


def _worker_lost(exc: BaseException) -> bool:
    """Whether a batch failed because its worker process died (rather than because of its input)."""
    if type(exc).__module__.startswith("distributed"):
        from distributed import KilledWorker

        return isinstance(exc, KilledWorker)
    return False


def parallel_map(fn: Callable[..., Any], arg_tuples: Iterable[tuple], *, n_jobs: int) -> Iterator[Any]:
    """fn(*args) for each args tuple on the local pool, results yielded in order (as each is ready)."""
    pool = local_executor(n_jobs)
    futures = [pool.submit(fn, *args) for args in arg_tuples]
    return (f.result() for f in futures)
