"""Scale-out: the same batches on a Dask cluster (two single-threaded worker processes) as on the local pool.

Real audio from ../shared/data and the real default model. The cluster is started once for the module;
one test kills a worker process in the middle of a run and one makes a file kill every worker that touches it.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from serkit.cli import main
from serkit.features import FeatureCache, extract_features

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    import serkit.parallel

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as c:
        yield c
        serkit.parallel.close_clients()  # the CLI's own connections to this cluster


@pytest.fixture(scope="module")
def files(shared_data) -> list[str]:
    """40 real recordings: 20 of SAVEE, 20 of RAVDESS."""
    savee = sorted((shared_data / "savee").glob("*.flac"))[:20]
    ravdess = sorted((shared_data / "ravdess" / "Actor_01").glob("*.flac"))[:20]
    return [str(p) for p in savee + ravdess]


@pytest.fixture
def not_audio(tmp_path) -> str:
    bad = tmp_path / "broken.flac"
    bad.write_bytes(b"fLaC" + b"\x00" * 300)  # a FLAC signature and nothing decodable
    return str(bad)


def read_jsonl(path: Path) -> list[dict]:
    text = path.read_text()
    assert text.endswith("\n"), "a half-written last line"
    return [json.loads(line) for line in text.splitlines()]


def test_features_from_the_cluster_equal_local_features(client, files, not_audio):
    from concurrent.futures import ProcessPoolExecutor

    paths = files + [not_audio]
    local = extract_features(paths, ["spectral_stats"], cache=None, workers=1, progress=False)
    remote = extract_features(paths, ["spectral_stats"], cache=None, executor=client, progress=False)
    assert local.computed == remote.computed == len(files)
    assert sorted(remote.failed) == sorted(local.failed) == [len(files)]  # the broken file fails alone
    assert np.array_equal(local.stacked("spectral_stats"), remote.stacked("spectral_stats"))
    # Any concurrent.futures executor will do, e.g. the caller's own process pool.
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:  # no fork: threads run
        theirs = extract_features(files[:8], ["spectral_stats"], cache=None, executor=pool, progress=False)
    assert np.array_equal(theirs.stacked("spectral_stats"), local.stacked("spectral_stats")[:8])


def test_predict_jsonl_over_a_cluster_equals_local_prediction(client, files, not_audio, tmp_path, capsys):
    from serkit.inference import Predictor

    out = tmp_path / "predictions.jsonl"
    rc = main(["predict", *files, not_audio, "--format", "jsonl", "--output", str(out),
               "--scheduler", client.scheduler.address, "--quiet"])
    assert rc == 1  # one file failed, the rest were predicted
    rows = read_jsonl(out)
    assert sorted(r["path"] for r in rows) == sorted(files + [not_audio])  # each exactly once
    by_path = {r["path"]: r for r in rows}
    assert by_path[not_audio]["label"] is None and not_audio in by_path[not_audio]["error"]
    local = {r.path: r.to_dict() for r in Predictor.load().predict_files(files)}
    for f in files:
        remote = by_path[f]
        assert remote["label"] == local[f]["label"], f
        for c, p in local[f]["probabilities"].items():
            assert abs(remote["probabilities"][c] - p) <= 1e-6, (f, c)
    assert "serkit: " + by_path[not_audio]["error"] in capsys.readouterr().err


def test_an_adapted_model_predicts_the_same_on_the_cluster(client, files):
    """The workers rebuild the model from its bundle, with the statistics it was adapted to in memory."""
    from serkit.inference import Predictor

    base = Predictor.load()
    adapted = base.adapt(files)
    here = [r.to_dict() for r in adapted.predict_files(files[:8])]
    there = [r.to_dict() for r in adapted.predict_files(files[:8], executor=client)]
    assert [r["path"] for r in there] == files[:8]  # predict_files keeps the input order
    assert there == here
    assert [r.to_dict() for r in base.predict_files(files[:8])] != here  # adapting changed the predictions


def test_a_worker_killed_mid_run_loses_no_file(client, files, tmp_path):
    out = tmp_path / "killed.jsonl"
    rcs: list[int] = []
    run = threading.Thread(target=lambda: rcs.append(main(
        ["predict", *files, "--format", "jsonl", "--output", str(out), "--scheduler", client.scheduler.address,
         "--quiet"])))
    run.start()
    deadline = time.monotonic() + 60
    while not (out.exists() and out.read_text().count("\n")) and time.monotonic() < deadline:
        time.sleep(0.01)
    busy = [w for w, tasks in client.processing().items() if tasks]
    assert busy, "no worker had work in flight"
    lines_at_kill = out.read_text().count("\n")
    pid = client.run(os.getpid, workers=busy[:1])[busy[0]]
    os.kill(pid, signal.SIGKILL)
    assert run.is_alive() and 0 < lines_at_kill < len(files), "the worker was not killed mid-run"
    run.join(120)
    assert rcs == [0]
    rows = read_jsonl(out)
    assert sorted(r["path"] for r in rows) == sorted(files)  # every file exactly once
    assert all(r["error"] is None for r in rows if "error" in r)
    client.wait_for_workers(2, timeout=60)  # the nanny restarts the dead worker


def _dies_on_poison(batch: list[int]) -> list[int]:
    if 5 in batch:
        os._exit(1)
    return [x * 10 for x in batch]


def test_a_file_that_kills_its_worker_fails_alone(client):
    """A batch whose worker dies more often than Dask retries it is split, and only the culprit is lost."""
    from serkit.parallel import run_batches

    def set_allowed(dask_scheduler, n):
        old, dask_scheduler.allowed_failures = dask_scheduler.allowed_failures, n
        return old

    old = client.run_on_scheduler(set_allowed, n=0)  # no retries: one death is enough to give up
    try:
        batches = [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
        got = dict(run_batches(_dies_on_poison, batches, executor=client, lost=lambda item, why: f"lost {item}"))
    finally:
        client.run_on_scheduler(set_allowed, n=old)
    assert got == {0: [0, 10, 20, 30], 1: [40, "lost 5", 60, 70], 2: [80, 90]}
    client.wait_for_workers(2, timeout=60)


def test_an_interrupted_predict_resumes_with_every_file_once(files, tmp_path, capsys):
    out = tmp_path / "run.jsonl"
    cmd = [sys.executable, "-c", "import sys; from serkit.cli import main; sys.exit(main())",
           "predict", *files, "--format", "jsonl", "--output", str(out), "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while proc.poll() is None and not (out.exists() and out.stat().st_size) and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.kill()
    proc.wait()
    written = out.read_text().count("\n")
    assert proc.returncode == -signal.SIGKILL and 0 < written < len(files), "not killed mid-run"
    with out.open("a") as fh:
        fh.write('{"path": "' + files[-1][:20])  # as if killed in the middle of writing a line
    before = out.read_bytes()
    # Without --resume the file is refused, untouched.
    assert main(["predict", *files, "--format", "jsonl", "--output", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--resume" in err and str(out) in err
    assert out.read_bytes() == before
    assert main(["predict", *files, "--format", "jsonl", "--output", str(out), "--quiet", "--resume"]) == 0
    assert "dropped the partial last line" in capsys.readouterr().err
    rows = read_jsonl(out)
    assert sorted(r["path"] for r in rows) == sorted(files)  # none lost, none doubled
    # Resuming a finished file does nothing.
    assert main(["predict", *files, "--format", "jsonl", "--output", str(out), "--quiet", "--resume"]) == 0
    assert read_jsonl(out) == rows


def test_csv_resume_keeps_one_header_and_one_row_per_file(files, tmp_path):
    import csv

    out = tmp_path / "run.csv"
    assert main(["predict", *files[:3], "--format", "csv", "--output", str(out), "--quiet"]) == 0
    with out.open("a") as fh:
        fh.write(files[3] + ",angry,0.7")  # a row cut off mid-write
    assert main(["predict", *files[:8], "--format", "csv", "--output", str(out), "--quiet", "--resume"]) == 0
    rows = list(csv.reader(out.open()))
    assert rows[0][:3] == ["path", "label", "confidence"] and sum(r[0] == "path" for r in rows) == 1
    assert sorted(r[0] for r in rows[1:]) == sorted(files[:8])
    # A file this command did not write is never appended to.
    other = tmp_path / "notes.csv"
    other.write_text("name,value\na,1\n")
    assert main(["predict", *files[:2], "--format", "csv", "--output", str(other), "--quiet", "--resume"]) == 2
    assert other.read_text() == "name,value\na,1\n"


def test_an_interrupted_feature_extraction_computes_only_what_is_missing(shared_data, tmp_path, capsys):
    cache = tmp_path / "cache"
    argv = ["features", "extract", "--data", str(shared_data / "savee"), "--features", "spectral_stats",
            "--cache", str(cache), "--workers", "1", "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from serkit.cli import main; sys.exit(main())", *argv],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while proc.poll() is None and not any(cache.rglob("*.f32")) and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.kill()
    proc.wait()
    cached = len(list(cache.rglob("*.f32")))
    assert proc.returncode == -signal.SIGKILL and 0 < cached < 480, "not killed mid-run"
    assert main(argv) == 0
    line = capsys.readouterr().out
    assert f"480 files, features spectral_stats: {480 - cached} computed, {cached} from cache, 0 failed" in line
    assert len(list(cache.rglob("*.f32"))) == 480
    # What the cache now serves is what a fresh computation gives.
    paths = sorted(str(p) for p in (shared_data / "savee").glob("*.flac"))[:10]
    served = extract_features(paths, ["spectral_stats"], cache=FeatureCache(cache), workers=1, progress=False)
    fresh = extract_features(paths, ["spectral_stats"], cache=None, workers=1, progress=False)
    assert served.from_cache == 10 and np.array_equal(served.stacked("spectral_stats"), fresh.stacked("spectral_stats"))


def test_evaluate_on_a_cluster_gives_the_local_result(client, shared_data, tmp_path, capsys):
    manifest = tmp_path / "data.csv"
    rows = ["path,label,speaker"]
    for spk in ("DC", "JE", "JK", "KL"):
        for emo, label in (("a", "angry"), ("h", "happy"), ("n", "neutral")):
            rows += [f"{shared_data / 'savee' / f'{spk}_{emo}{k:02d}.flac'},{label},{spk}" for k in range(1, 6)]
    manifest.write_text("\n".join(rows) + "\n")
    argv = ["evaluate", "--data", str(manifest), "--model", "logreg", "--format", "json", "--no-cache", "--quiet",
            "--jobs", "1"]
    assert main(argv) == 0
    local = json.loads(capsys.readouterr().out)
    assert main(argv + ["--scheduler", client.scheduler.address]) == 0
    remote = json.loads(capsys.readouterr().out)
    assert remote["n_files"] == local["n_files"] == 60
    timeless = [[{k: v for k, v in r.items() if "seconds" not in k} for r in run["results"]] for run in (local, remote)]
    assert timeless[0] == timeless[1] and "ua" in timeless[0][0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_scheduler_is_a_one_line_error(shared_data, monkeypatch, capfd):
    import serkit.parallel

    monkeypatch.setattr(serkit.parallel, "CONNECT_TIMEOUT", 1.0)
    address = f"tcp://127.0.0.1:{free_port()}"
    t0 = time.monotonic()
    rc = main(["features", "extract", "--data", str(shared_data / "savee"), "--scheduler", address, "--quiet"])
    err = capfd.readouterr().err.strip()
    assert rc == 2 and time.monotonic() - t0 < 20
    assert len(err.splitlines()) == 1 and err.startswith("serkit: error: --scheduler " + address), err
    for bad, why in (("local:0", "from 1 to 1024, got '0'"), ("local:many", "got 'many'"),
                     ("http://x y", "got 'http://x y'")):
        assert main(["predict", "x.wav", "--scheduler", bad]) == 2
        err = capfd.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and err.startswith("serkit: error: --scheduler") and why in err, err
    assert main(["evaluate", "--data", "x", "--scheduler", "local:2", "--workers", "2"]) == 2
    assert "--workers" in capfd.readouterr().err


def test_a_scheduler_that_accepts_and_never_answers_is_a_one_line_error(tmp_path):
    """A listener that accepts TCP and says nothing (a wrong port, a stuck proxy): one line within the connect
    time-out, exit 2, from the real CLI, never a hang."""
    import fixtures as fx
    from serkit.parallel import CONNECT_TIMEOUT

    clip = fx.write(tmp_path / "clip.wav", fx.synth(1.0, seed=7), 16_000)
    held: list[socket.socket] = []
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.settimeout(0.2)
        address = f"tcp://127.0.0.1:{listener.getsockname()[1]}"
        stop = threading.Event()

        def accept() -> None:
            while not stop.is_set():
                try:
                    held.append(listener.accept()[0])  # accepted, never read from or written to
                except OSError:
                    continue

        acceptor = threading.Thread(target=accept, daemon=True)
        acceptor.start()
        t0 = time.monotonic()
        try:
            done = subprocess.run([sys.executable, "-m", "serkit.cli", "predict", str(clip), "--scheduler", address],
                                  capture_output=True, text=True, timeout=CONNECT_TIMEOUT + 40)
        finally:
            stop.set()
            acceptor.join(timeout=5)
            for conn in held:
                conn.close()
        elapsed = time.monotonic() - t0
    assert held, "the CLI never connected"
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith(f"serkit: error: --scheduler {address}: "), \
        done.stderr
    assert "accepted the connection, then said nothing" in done.stderr, done.stderr
    assert elapsed < CONNECT_TIMEOUT + 10, f"{elapsed:.1f} s"  # the time-out, plus starting Python and dask


def start_with_workers(shared_data, tmp_path) -> tuple[subprocess.Popen, list]:
    """The real CLI extracting features of RAVDESS (1,440 files) on the local pool of two workers, once both
    workers are busy: (the process, its descendants: the workers and loky's resource tracker)."""
    import psutil

    cmd = [sys.executable, "-m", "serkit.cli", "features", "extract", "--data", str(shared_data / "ravdess"),
           "--no-cache", "--workers", "2", "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        workers = [p for p in parent.children(recursive=True) if "resource_tracker" not in " ".join(p.cmdline())]
        if len(workers) >= 2 and all(w.cpu_times().user > 0.5 for w in workers):
            return proc, parent.children(recursive=True)
        time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"no two busy workers within 60 s: {proc.communicate()}")


def survivors(processes: list, within: float) -> list:
    """The processes still running (zombies are dead) after waiting up to `within` seconds for them to go."""
    import psutil

    deadline = time.monotonic() + within
    while True:
        alive = []
        for p in processes:
            try:
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    alive.append(p)
            except psutil.NoSuchProcess:
                pass
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


def test_sigterm_unwinds_like_ctrl_c_and_leaves_no_worker(shared_data, tmp_path):
    proc, children = start_with_workers(shared_data, tmp_path)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert time.monotonic() - t0 < 10 and proc.returncode == 143, (proc.returncode, err[-2000:])
    assert err.strip().splitlines() == ["serkit: terminated"], err[-2000:]
    left = survivors(children, within=3.0)
    for p in left:
        p.kill()  # what this test started, so the next test starts clean
    assert not left, [" ".join(p.cmdline())[:200] for p in left]


def test_workers_end_with_their_parent_even_when_it_is_killed(shared_data, tmp_path):
    proc, children = start_with_workers(shared_data, tmp_path)
    proc.kill()  # SIGKILL: no handler runs; the workers must notice by themselves
    proc.wait()
    t0 = time.monotonic()
    left = survivors(children, within=5.0)
    for p in left:
        p.kill()
    assert not left, [" ".join(p.cmdline())[:200] for p in left]
    assert time.monotonic() - t0 < 3.0, f"{time.monotonic() - t0:.1f} s for the workers to go"
