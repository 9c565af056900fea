"""Live prediction on one core: latency of an update, real-time factor, concurrent real-time streams.

    python benchmarks/live.py [--streams 1,2,4,8,12,16,24] [--seconds 20] [--core 0] [--model BUNDLE]

1. In process, pinned to one core: a ~30 s conversation of real RAVDESS clips (with pauses) is fed to
   ``StreamingPredictor`` in 0.1 s chunks as fast as possible. Prints the time from a chunk's arrival to
   its update (p50/p95/max over the chunks that complete a hop), and the real-time factor (processing
   time / audio time, the final summary included).
2. Through the server: ``serkit serve`` pinned to core --core (single-threaded numerics), N clients
   on the other cores, each streaming the conversation over ``/api/stream`` at real-time pace in 0.1 s
   chunks (starts staggered). The latency of an update is measured at the client: from sending the
   chunk that completes a hop to receiving that hop's update. A round sustains N streams when every
   update arrives within 1 s. Prints per N: p50/p95/max latency, updates later than 1 s, whether
   every stream got its summary, and the server's CPU use over the round (near 100%: the core is the
   limit; well below while updates are late: other processes took the core).

The clients share the machine with the server (they run on the other cores). Figures from a shared,
loaded machine are upper bounds on latency: say so when quoting them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np

from local_server import HOST, free_port, start_server, stop_server, wait_ready  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CHUNK_SECONDS = 0.1
LATE_SECONDS = 1.0


def conversation(data: Path, seconds: float = 30.0, *, speech_only: bool = False) -> np.ndarray:
    """Real RAVDESS clips of four actors and all emotions, 0.8 s pauses between them, 16 kHz float32;
    ``speech_only``: only their speech segments, back to back (every hop is speech: the worst case)."""
    from serkit import audio
    from serkit.segment import segments

    files = sorted((data / "ravdess").glob("Actor_0[1-4]/03-01-*-02-01-01-*.flac"))
    if not files:
        raise SystemExit(f"no RAVDESS clips under {data / 'ravdess'}")
    pause = np.zeros(int(0.8 * audio.SAMPLE_RATE), dtype=np.float32)
    pieces: list[np.ndarray] = []
    for f in files[::3] + files[1::3] + files[2::3]:
        x = audio.load(f)
        pieces += [s for _, _, s in segments([x])] if speech_only else [x, pause]
        if sum(map(len, pieces)) >= seconds * audio.SAMPLE_RATE:
            break
    return np.concatenate(pieces)


def pin(core: int) -> None:
    os.sched_setaffinity(0, {core})


def percentiles(values: list[float]) -> str:
    if not values:
        return "n/a"
    ms = np.array(values) * 1000
    return f"p50 {np.percentile(ms, 50):6.1f} ms  p95 {np.percentile(ms, 95):6.1f} ms  max {ms.max():6.1f} ms"


# ------------------------------------------------------------------------------ 1. in process
def in_process(signal: np.ndarray, model: str | None, core: int, what: str) -> None:
    from serkit import audio
    from serkit.inference import Predictor
    from serkit.server.predictor import warm_up_signal
    from serkit.streaming import StreamingPredictor

    pin(core)
    predictor = Predictor.load(model)
    predictor.predict_signal(warm_up_signal(), segment=False)
    chunk = int(CHUNK_SECONDS * audio.SAMPLE_RATE)
    for _ in range(2):  # the second run is the one reported (the first fills caches)
        stream = StreamingPredictor(predictor)
        labelled, unlabelled, other_times = [], [], []
        started = time.process_time()
        wall = time.perf_counter()
        for k in range(0, len(signal), chunk):
            t0 = time.perf_counter()
            updates = stream.feed(signal[k : k + chunk])
            took = time.perf_counter() - t0
            if not updates:
                other_times.append(took)
            else:
                (labelled if any(u.label for u in updates) else unlabelled).append(took)
        stream.close()
        cpu, wall = time.process_time() - started, time.perf_counter() - wall
    seconds = len(signal) / audio.SAMPLE_RATE
    print(f"in process, one core (core {core}), {seconds:.1f} s of {what} in {CHUNK_SECONDS:g} s chunks:")
    print(f"  chunk arrival -> its update: {percentiles(labelled + unlabelled)}  ({len(labelled + unlabelled)} updates)")
    print(f"    of which labelled (speech): {percentiles(labelled)}  ({len(labelled)})")
    print(f"  chunks without an update:    {percentiles(other_times)}  (segment predictions run here)")
    print(f"  updates with a label (speech heard): {len(labelled)} of {len(labelled) + len(unlabelled)}")
    print(f"  real-time factor: {cpu / seconds:.3f} CPU ({wall / seconds:.3f} wall): {seconds / cpu:.0f}x faster "
          "than real time")


# ------------------------------------------------------------------------------ 2. through the server
def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Round:
    streams: int
    latencies: list[float] = field(default_factory=list)
    summaries: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def late(self) -> int:
        return sum(1 for x in self.latencies if x > LATE_SECONDS)


async def one_stream(url: str, pcm: bytes, seconds: float, delay: float, result: Round) -> None:
    from websockets.asyncio.client import connect

    rate = 16000
    chunk_bytes = int(CHUNK_SECONDS * rate) * 2
    n_chunks = int(seconds / CHUNK_SECONDS)
    await asyncio.sleep(delay)
    try:
        async with connect(url, max_size=2**22) as ws:
            ready = json.loads(await ws.recv())
            hop = ready["hop"]
            sent_at: dict[int, float] = {}  # hop index -> when the chunk completing it was sent

            async def send() -> None:
                start = time.perf_counter()
                pos = 0
                for i in range(n_chunks):
                    data = pcm[pos : pos + chunk_bytes]
                    if len(data) < chunk_bytes:
                        pos, data = 0, pcm[:chunk_bytes]
                    pos += chunk_bytes
                    due = start + (i + 1) * CHUNK_SECONDS  # a chunk is sent once it would have been recorded
                    await asyncio.sleep(max(0.0, due - time.perf_counter()))
                    before = int(round(i * CHUNK_SECONDS / hop, 6))
                    after = int(round((i + 1) * CHUNK_SECONDS / hop, 6))
                    now = time.perf_counter()
                    for h in range(before, after):
                        sent_at[h] = now
                    await ws.send(data)
                await ws.send(json.dumps({"type": "stop"}))

            async def receive() -> None:
                async for raw in ws:
                    message = json.loads(raw)
                    if message["type"] == "update":
                        h = int(round(message["start"] / hop))
                        result.latencies.append(time.perf_counter() - sent_at[h])
                    elif message["type"] == "summary":
                        result.summaries += 1
                    elif message["type"] == "error":
                        result.failures.append(message["error"])

            await asyncio.gather(send(), receive())
    except Exception as exc:  # noqa: BLE001 - a benchmark reports, it does not stop
        result.failures.append(f"{type(exc).__name__}: {exc}")


async def run_round(url: str, pcm: bytes, streams: int, seconds: float) -> Round:
    result = Round(streams)
    rng = np.random.default_rng(streams)
    await asyncio.gather(*(one_stream(url, pcm, seconds, float(rng.uniform(0, 0.5)), result) for _ in range(streams)))
    return result


def through_server(signal: np.ndarray, model: str | None, core: int, counts: list[int], seconds: float,
                   cores: set[int]) -> None:
    others = sorted(cores - {core}) or [core]
    port = free_port()
    server = start_server(port, model, "--max-streams", "1024", "--max-stream-seconds", "3600", core=core)
    try:
        wait_ready(server, f"http://{HOST}:{port}")
        os.sched_setaffinity(0, set(others))  # the clients stay off the server's core
        pcm = (np.clip(signal, -1, 1) * 32767).astype("<i2").tobytes()
        url = f"ws://{HOST}:{port}/api/stream"
        print(f"\nthrough serkit serve on core {core}; clients on core(s) {','.join(map(str, others))}; each stream "
              f"{seconds:g} s at real-time pace in {CHUNK_SECONDS:g} s chunks:")
        sustained, failed = 0, False
        for n in sorted(counts):
            cpu0, wall0 = cpu_seconds(server.pid), time.perf_counter()
            r = asyncio.run(run_round(url, pcm, n, seconds))
            busy = (cpu_seconds(server.pid) - cpu0) / (time.perf_counter() - wall0)
            ok = r.late == 0 and r.summaries == n and not r.failures
            failed = failed or not ok
            sustained = n if not failed else sustained  # every round up to n kept up
            print(f"  {n:3d} streams: {percentiles(r.latencies)}  late (>1 s) {r.late:4d} of {len(r.latencies):5d}  "
                  f"summaries {r.summaries}/{n}  server CPU {100 * busy:3.0f}% of its core"
                  + (f"  failures: {r.failures[0]}" if r.failures else "") + ("" if ok else "  <- not sustained"))
            if not ok and r.late > len(r.latencies) / 2:
                break  # far past the limit: more streams only take longer
        print(f"  one core sustains {sustained} live streams at real-time pace with no update later than 1 s "
              "(every round up to that count)")
    finally:
        stop_server(server, timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--streams", default="1,2,4,8,12,16,24", help="concurrent streams per round, comma-separated")
    ap.add_argument("--seconds", type=float, default=20.0, help="audio per stream and round (real time)")
    ap.add_argument("--core", type=int, default=0, help="the core the server (and part 1) runs on")
    ap.add_argument("--model", default=None, help="model bundle (default: the bundled model)")
    ap.add_argument("--data", type=Path, default=DATA, help="the shared corpora")
    ap.add_argument("--speech-only", action="store_true",
                    help="stream only the clips' speech, back to back (every hop labelled: the worst case)")
    args = ap.parse_args()
    if not 1 <= args.seconds <= 600:
        raise SystemExit(f"--seconds must be from 1 to 600, got {args.seconds}")
    counts = [int(x) for x in args.streams.split(",")]
    if not counts or min(counts) < 1 or max(counts) > 1024:
        raise SystemExit(f"--streams: give counts from 1 to 1024, got {args.streams!r}")
    if args.core not in os.sched_getaffinity(0):
        raise SystemExit(f"--core {args.core}: this process may run on cores {sorted(os.sched_getaffinity(0))}")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    cores = os.sched_getaffinity(0)
    signal = conversation(args.data, speech_only=args.speech_only)
    what = "speech only, clip after clip" if args.speech_only else "speech and pauses"
    in_process(signal, args.model, args.core, what)
    through_server(signal, args.model, args.core, counts, args.seconds, cores)
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
