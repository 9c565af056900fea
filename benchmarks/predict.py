"""Prediction speed and memory, as a user sees them.

    python benchmarks/predict.py [--model BUNDLE] [--data ../shared/data] [--clips 60] [--folder 400] [--hour]

Prints, in one run:
  0. cold start: wall time of `serkit predict one.wav` in a fresh process, the way it ran before (native:
     torch encoder, scikit-learn classifier) and now (the bundled ONNX files), their ratio, and how long
     `serkit serve` takes from launch until /api/health answers;
  1. warm end-to-end latency of one 3 s clip on one core (decode + features + model),
     p50/p95, with each stage's share, for the native classifier and for ONNX;
  2. folder throughput (files/s) with one worker per core;
  3. (--hour) peak memory (RSS) and time to predict a one-hour recording, in a fresh process.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def three_second_clips(data: Path, n: int) -> list[bytes]:
    """n real RAVDESS clips cut to exactly 3.0 s from the speech onset, as FLAC bytes."""
    import soundfile as sf

    from serkit import audio
    from serkit.corpora import scan
    from serkit.features.spectral import speech_onset

    paths = scan(data / "ravdess").table["path"].tolist()[:: max(1, 1440 // n)][:n]
    out = []
    for p in paths:
        s = audio.load(p)
        start = max(0, speech_onset(s) - 1600)
        clip = np.zeros(48000, dtype=np.float32)
        piece = s[start : start + 48000]
        clip[: len(piece)] = piece
        buf = io.BytesIO()
        sf.write(buf, clip, 16000, format="FLAC")
        out.append(buf.getvalue())
    return out


def latency(predictor, clips: list[bytes], label: str) -> None:
    from serkit import audio

    stages: dict[str, list[float]] = {"decode": [], **{ex.name: [] for ex in predictor.extractors}, "model": []}
    totals = []
    for i, data in enumerate(clips * 2):
        t0 = time.perf_counter()
        s = audio.load(data)
        t1 = time.perf_counter()
        feats, times = [], []
        for ex in predictor.extractors:
            a = time.perf_counter()
            feats.append(ex.extract(s))
            times.append(time.perf_counter() - a)
        t2 = time.perf_counter()
        predictor.probabilities([feats])
        t3 = time.perf_counter()
        if i < len(clips) // 4:
            continue  # warm-up
        stages["decode"].append(t1 - t0)
        for ex, t in zip(predictor.extractors, times, strict=True):
            stages[ex.name].append(t)
        stages["model"].append(t3 - t2)
        totals.append(t3 - t0)
    tot = np.array(totals) * 1000
    mean_total = float(np.mean(totals))
    share = ", ".join(f"{k} {np.mean(v) / mean_total:.0%} ({np.mean(v) * 1000:.1f} ms)" for k, v in stages.items())
    print(f"[{label}] 3 s clip, 1 thread, n={len(totals)}: p50 {np.percentile(tot, 50):.1f} ms, "
          f"p95 {np.percentile(tot, 95):.1f} ms; stages: {share}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="bundle (default: the bundled default model)")
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--clips", type=int, default=60)
    ap.add_argument("--folder", type=int, default=400, help="files for the throughput test")
    ap.add_argument("--hour", action="store_true", help="also measure a one-hour recording (takes minutes)")
    args = ap.parse_args()

    cold_start(args.model)

    import torch

    torch.set_num_threads(1)
    from serkit.inference import Predictor

    predictor = Predictor.load(args.model, backend="native")
    print(f"model: {predictor.config.model} on {predictor.config.experiment.feature_spec()} "
          f"({predictor.bundle.path})")
    clips = three_second_clips(Path(args.data), args.clips)
    latency(predictor, clips, "native")
    if (predictor.bundle.path / "onnx.json").is_file():
        latency(Predictor.load(args.model, backend="onnx"), clips, "onnx")
        print("[onnx] classifier and Whisper encoder in onnxruntime (the bundle's exported files)")
    predictor = Predictor.load(args.model, backend="native")  # the native path for the throughput test

    from serkit.corpora import load_dataset

    data = Path(args.data)
    files = load_dataset([str(data / "ravdess"), str(data / "savee")]).table["path"].tolist()
    files = files[:: max(1, len(files) // args.folder)][: args.folder]
    predictor.predict_files(files[:4], workers=os.cpu_count())  # start the workers
    t0 = time.perf_counter()
    res = predictor.predict_files(files, workers=os.cpu_count())
    secs = time.perf_counter() - t0
    assert all(r.ok for r in res)
    print(f"folder throughput: {len(files)} files in {secs:.1f} s = {len(files) / secs:.1f} files/s "
          f"({os.cpu_count()} worker processes)")

    if args.hour:
        hour(data, args.model)


def cold_start(model: str | None, runs: int = 5) -> None:
    """Median wall time of a whole `serkit predict` process on one clip, native vs the default backend."""
    import shutil
    import socket
    import urllib.request

    clip = str(Path(__file__).resolve().parents[1] / "examples" / "03-01-05-02-01-01-05.flac")
    serkit = shutil.which("serkit") or str(Path(sys.executable).parent / "serkit")
    base = [serkit, "predict", clip, "--quiet"] + (["--model", model] if model else [])
    times = {}
    for name, extra in (("before (native: torch + scikit-learn)", ["--backend", "native"]),
                        ("now (default: ONNX files, no torch)", [])):
        walls = []
        for _ in range(runs):
            t0 = time.perf_counter()
            subprocess.run(base + extra, check=True, capture_output=True)
            walls.append(time.perf_counter() - t0)
        times[name] = float(np.median(walls))
        print(f"cold start, one 4 s file, {name}: {times[name]:.2f} s (median of {runs} processes)")
    before, now = times.values()
    print(f"cold start ratio now/before: {now / before:.2f} ({before / now:.1f}x faster)")
    from local_server import stop_server  # benchmarks/ is on sys.path when a benchmark runs as a script

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    t0 = time.perf_counter()
    server = subprocess.Popen([serkit, "serve", "--port", str(port)] + (["--model", model] if model else []),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - t0 < 60:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.02)
        print(f"server start-up: /api/health answered {time.perf_counter() - t0:.2f} s after launch")
    finally:
        stop_server(server, timeout=10)


def hour(data: Path, model: str | None) -> None:
    """A one-hour recording: real clips separated by 1-3 s pauses with low noise, as 16 kHz FLAC."""
    import soundfile as sf

    from serkit import audio
    from serkit.corpora import scan

    paths = scan(data / "savee").table["path"].tolist() + scan(data / "ravdess").table["path"].tolist()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "hour.flac"
        total = 0
        with sf.SoundFile(f, "w", samplerate=16000, channels=1, format="FLAC") as out:
            i = 0
            while total < 3600 * 16000:
                s = audio.load(paths[i % len(paths)])
                gap = (rng.standard_normal(int(rng.uniform(1, 3) * 16000)) * 1e-3).astype(np.float32)
                out.write(np.concatenate([s, gap]))
                total += len(s) + len(gap)
                i += 1
        code = (
            "import resource, sys, time\n"
            "from serkit.inference import Predictor\n"
            f"p = Predictor.load({model!r})\n"
            "t = time.perf_counter(); r = p.predict_file(sys.argv[1]); t = time.perf_counter() - t\n"
            "rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
            "print(f'one-hour recording: {len(r.segments)} segments in {t:.0f} s, peak RSS {rss:.0f} MiB, label {r.label}')\n"
        )
        # Baseline: the same process on the recording's first minute, to show memory does not grow with length.
        minute = Path(tmp) / "minute.flac"
        with sf.SoundFile(f) as src:
            sf.write(minute, src.read(60 * 16000, dtype="float32"), 16000, format="FLAC")
        subprocess.run([sys.executable, "-c", code.replace("one-hour recording", "one-minute excerpt"), str(minute)],
                       check=True)
        subprocess.run([sys.executable, "-c", code, str(f)], check=True)


if __name__ == "__main__":
    main()
