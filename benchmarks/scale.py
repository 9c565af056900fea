"""Scale-out: the built-in local pool vs a Dask LocalCluster on the same cores, and predict's memory.

    python benchmarks/scale.py [--data ../shared/data] [--files N] [--workers 2] [--rounds 6] [--predict-files N]

Prints, in one run:
  1. files/s (and audio seconds per second) of the default model's features (whisper_encoder states, means)
     computed from scratch (no cache) by the local pool of --workers processes and by the
     LocalCluster `--scheduler local:N` starts (N = --workers single-threaded worker processes); their
     ratio; CPU per file; each worker's peak memory. Both first get a few files so every worker has loaded
     the encoder (timed apart: start-up); then they take turns on --rounds interleaved parts of the files,
     so a change in the load of this shared machine hits both alike;
  2. the memory of `serkit predict --format jsonl --output FILE` over --predict-files files in a fresh
     process (its whole process tree, sampled with its progress): the peak until the first 100 files are
     written vs the peak of the whole run, and at each quarter (the peak follows the longest clip seen so
     far: --predict-order longest-first separates that from any growth with the number of files);
  3. the projected wall time of 10,000 hours of audio on N workers, from the cluster's measured rate per
     worker.
The machine is shared: the load average is printed before and after; rerun when it is quiet.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

REPO = Path(__file__).resolve().parents[1]


class PeakRSS:
    """Samples the resident memory of processes (every `every` s) in a thread; keeps each pid's peak."""

    def __init__(self, pids, every: float = 0.2) -> None:
        self.pids = pids  # a callable giving the pids to sample now
        self.every = every
        self.peak: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            for pid in self.pids():
                try:
                    rss = psutil.Process(pid).memory_info().rss
                except psutil.Error:
                    continue
                self.peak[pid] = max(self.peak.get(pid, 0), rss)
            self._stop.wait(self.every)

    def __enter__(self) -> "PeakRSS":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def worker_pids(exclude: set[int] = frozenset()) -> list[int]:
    """This process's children that run work (loky or Dask workers), not helpers such as resource trackers."""
    import psutil

    out = []
    for child in psutil.Process().children(recursive=True):
        try:
            cmd = " ".join(child.cmdline())
        except psutil.Error:
            continue
        if child.pid not in exclude and "resource_tracker" not in cmd and "semaphore_tracker" not in cmd:
            out.append(child.pid)
    return out


def mib(n: int) -> str:
    return f"{n / 2**20:.0f} MiB"


def default_features() -> str:
    """The bundled default model's feature spec, e.g. whisper_encoder[pooling=mean,states=1|2|3]."""
    from serkit.bundle import load_bundle
    from serkit.inference import default_model_path

    return load_bundle(default_model_path(), load_estimator=False).config.experiment.feature_spec()


def cpu_seconds(pids) -> float:
    import psutil

    total = 0.0
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system
    return total


def compare_features(paths: list[str], seconds: float, workers: int, rounds: int) -> float:
    """The local pool and a LocalCluster, both warm, taking turns on `rounds` interleaved parts of the files
    (so a change in the machine's load hits both alike); returns the cluster's audio seconds/s per worker."""
    import psutil

    from serkit.experiment import feature_extractors
    from serkit.features import extract_features
    from serkit.parallel import close_clients, connect

    extractors = feature_extractors(default_features())
    warm = paths[: 4 * workers]
    me = psutil.Process()
    before = set(worker_pids())
    t0 = time.perf_counter()
    extract_features(warm, extractors, cache=None, progress=False, keep=False, workers=workers)
    start = {"local": time.perf_counter() - t0}
    pids = {"local": worker_pids(before)}
    t0 = time.perf_counter()
    client = connect(f"local:{workers}", announce=False)  # what --scheduler local:N starts
    try:
        extract_features(warm, extractors, cache=None, progress=False, keep=False, executor=client)
        start["cluster"] = time.perf_counter() - t0
        pids["cluster"] = list(client.run(os.getpid).values())
        how = {"local": {"workers": workers}, "cluster": {"executor": client}}
        secs = {"local": 0.0, "cluster": 0.0}
        client_cpu = {"local": 0.0, "cluster": 0.0}
        cpu0 = {k: cpu_seconds(v) for k, v in pids.items()}
        with PeakRSS(lambda: pids["local"] + pids["cluster"], every=0.5) as mem:
            for r in range(rounds):
                part = paths[r::rounds]
                for name in (("local", "cluster") if r % 2 == 0 else ("cluster", "local")):
                    c0 = sum(me.cpu_times()[:2])
                    t0 = time.perf_counter()
                    res = extract_features(part, extractors, cache=None, progress=False, keep=False, **how[name])
                    secs[name] += time.perf_counter() - t0
                    client_cpu[name] += sum(me.cpu_times()[:2]) - c0
                    assert res.computed + len(res.failed) == len(part), res
        cpu = {k: cpu_seconds(v) - cpu0[k] for k, v in pids.items()}
    finally:
        close_clients()
    for name, label in (("local", f"local pool ({workers} processes)"), ("cluster", f"Dask LocalCluster ({workers} workers)")):
        peaks = ", ".join(mib(mem.peak.get(pid, 0)) for pid in pids[name])
        print(f"{label:34s} {len(paths) / secs[name]:6.1f} files/s  {seconds / secs[name]:6.1f} audio s/s  "
              f"({secs[name]:.1f} s; start-up {start[name]:.1f} s); CPU per file: workers "
              f"{cpu[name] / len(paths) * 1000:.1f} ms, this process {client_cpu[name] / len(paths) * 1000:.1f} ms; "
              f"peak memory per worker: {peaks}")
    ratio = secs["local"] / secs["cluster"]
    print(f"cluster / local pool throughput: {ratio:.2f} ({(ratio - 1) * 100:+.1f}%; goal: within 15%), in {rounds} "
          "alternating rounds")
    return seconds / secs["cluster"] / workers


def predict_memory(inputs: list[str], n_files: int, scheduler: str | None) -> None:
    """`serkit predict INPUTS --format jsonl --output FILE` in a fresh process, its memory sampled with its progress."""
    import psutil

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.jsonl"
        cmd = [sys.executable, "-c", "import sys; from serkit.cli import main; sys.exit(main())", "predict",
               *inputs, "--format", "jsonl", "--output", str(out), "--quiet"]
        if scheduler:
            cmd += ["--scheduler", scheduler]
        env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        root = psutil.Process(proc.pid)
        early = late = client = 0
        samples = []
        t0 = time.perf_counter()
        while proc.poll() is None:
            try:
                tree = [root] + root.children(recursive=True)
                rss = {p.pid: p.memory_info().rss for p in tree}
            except psutil.Error:
                continue
            total, own = sum(rss.values()), rss.get(proc.pid, 0)
            lines = out.read_bytes().count(b"\n") if out.exists() else 0
            samples.append((lines, total, own))
            if lines <= 100:
                early = max(early, total)
            late = max(late, total)
            client = max(client, own)
            time.sleep(0.2)
        secs = time.perf_counter() - t0
        err = proc.stderr.read() if proc.stderr else ""
        written = out.read_bytes().count(b"\n") if out.exists() else 0
    how = f"--scheduler {scheduler}" if scheduler else "local (the default)"
    print(f"predict --format jsonl, {how}: {written} of {n_files} lines in {secs:.0f} s (exit {proc.returncode})")
    if proc.returncode not in (0, 1):
        print("  " + err.strip().replace("\n", "\n  "))
    early_client = max((own for lines, _, own in samples if lines <= 100), default=0)
    marks = [100] + [n_files * q // 4 for q in (1, 2, 3, 4)]
    at = [max((t for lines, t, _ in samples if lines <= m), default=0) for m in marks]
    print("  peak memory of the process tree up to " + ", ".join(f"{m} files {mib(a)}" for m, a in zip(marks, at)))
    print(f"  peak memory, process tree: {mib(early)} until 100 files were written, {mib(late)} for all "
          f"({(late / early - 1) * 100 if early else float('nan'):+.1f}%, goal at most +10%)")
    print(f"  peak memory, the predict process alone: {mib(early_client)} until 100 files, {mib(client)} for all "
          f"({(client / early_client - 1) * 100 if early_client else float('nan'):+.1f}%)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--files", type=int, default=0, help="feature files (0: all; else evenly spaced)")
    ap.add_argument("--workers", type=int, default=2, help="processes of the local pool and of the cluster")
    ap.add_argument("--rounds", type=int, default=6, help="alternating rounds of the local pool and the cluster")
    ap.add_argument("--predict-files", type=int, default=0, help="files for the predict memory test (0: all)")
    ap.add_argument("--predict-order", choices=["folder", "longest-first"], default="folder",
                    help="folder: the folder itself, as a user runs it; longest-first: the files as arguments, longest "
                         "clip first, so the first 100 already hold the largest working set and any later growth "
                         "is accumulation")
    ap.add_argument("--predict-scheduler", default=None, help="run that predict with --scheduler (default: local)")
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: features, predict")
    args = ap.parse_args()

    from serkit import audio
    from serkit.inference import expand_paths

    every = expand_paths([args.data])
    paths = every[:: max(1, len(every) // args.files)][: args.files] if args.files else every
    seconds = sum(audio.info(p).duration for p in paths)
    print(f"{len(paths)} files ({seconds / 3600:.2f} h, {seconds / len(paths):.1f} s on average) from {args.data}; "
          f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f} (the machine is shared)")
    print(f"features {default_features()} (the default model's), no cache, {args.workers} single-threaded workers "
          "each way")
    skip = set(filter(None, args.skip.split(",")))
    if "features" not in skip:
        per_worker = compare_features(paths, seconds, args.workers, args.rounds)
        print(f"projected wall time for 10,000 h of audio at {per_worker:.1f} audio s/s per worker (the cluster's "
              "rate here; assumes clips like these, cores like these, and storage and scheduler that keep up):")
        for n in (2, 16, 64, 256):
            hours = 10_000 * 3600 / (per_worker * n) / 3600
            print(f"  {n:4d} workers: {hours:8.1f} h ({hours / 24:.1f} days)")
    if "predict" not in skip:
        n = min(args.predict_files or len(every), len(every))
        chosen = every[:: max(1, len(every) // n)][:n]
        if args.predict_order == "longest-first":
            inputs = sorted(chosen, key=lambda f: -audio.info(f).duration)
        else:
            inputs = [args.data] if n == len(every) else chosen
        print(f"predict memory: {n} files, order: {args.predict_order}")
        predict_memory(inputs, n, args.predict_scheduler)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
