"""The web server under concurrent clients, as a deployment sees it.

    python benchmarks/server.py [--seconds 30] [--clients 1,4,8,16] [--model BUNDLE] [--max-concurrent N]

Starts `serkit serve` as a subprocess on 127.0.0.1 (a free port, loopback only, single-threaded
numerics), then for each N runs N clients for --seconds each; every client POSTs the same real
3-4 s RAVDESS clip to /api/predict in a loop, honouring Retry-After on 503, and stops by itself at
the end of the round. Prints per round: requests/s (all answers) and predictions/s (200s),
p50/p95/max latency of the 200s, errors (no answer, or a status other than 200 and 503), the
count of 5xx and of 503, and the server's RSS after the round (and at start). The clients run
on the same machine as the server: on a 2-core box they take CPU from it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from local_server import HOST, free_port, start_server, stop_server, wait_ready

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def real_clip(data: Path) -> tuple[str, bytes]:
    """The first RAVDESS speech clip of Actor_01 lasting 3-4 s: (name, FLAC bytes)."""
    import soundfile as sf

    for path in sorted((data / "ravdess" / "Actor_01").glob("03-01-*.flac")):
        if 3.0 <= sf.info(str(path)).duration <= 4.0:
            return path.name, path.read_bytes()
    raise SystemExit(f"no 3-4 s RAVDESS clip under {data / 'ravdess' / 'Actor_01'}")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


@dataclass
class Round:
    clients: int
    seconds: float
    latencies: list[float] = field(default_factory=list)  # of 200 answers
    statuses: dict[int, int] = field(default_factory=dict)
    failures: int = 0  # no answer at all (connection error, time-out)

    @property
    def answers(self) -> int:
        return sum(self.statuses.values())

    @property
    def errors(self) -> int:
        return self.failures + sum(n for s, n in self.statuses.items() if s not in (200, 503))

    def pct(self, q: float) -> float:
        import numpy as np

        return float(np.percentile(self.latencies, q)) * 1000 if self.latencies else float("nan")


async def run_round(base: str, clip: tuple[str, bytes], clients: int, seconds: float) -> Round:
    import httpx

    result = Round(clients, seconds)
    end = time.monotonic() + seconds

    async def client() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=30) as c:
            while time.monotonic() < end:
                t0 = time.perf_counter()
                try:
                    r = await c.post("/api/predict", files={"file": (clip[0], clip[1], "audio/flac")})
                except httpx.HTTPError:
                    result.failures += 1
                    await asyncio.sleep(0.1)
                    continue
                took = time.perf_counter() - t0
                result.statuses[r.status_code] = result.statuses.get(r.status_code, 0) + 1
                if r.status_code == 200:
                    result.latencies.append(took)
                elif r.status_code == 503:
                    wait = float(r.headers.get("retry-after", "1"))
                    await asyncio.sleep(max(0.0, min(wait, end - time.monotonic())))

    await asyncio.gather(*(client() for _ in range(clients)))
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=30.0, help="length of each round")
    ap.add_argument("--clients", default="1,4,8,16", help="concurrent clients per round, comma-separated")
    ap.add_argument("--model", default=None, help="model bundle (default: the bundled model)")
    ap.add_argument("--max-concurrent", type=int, default=None, help="passed to serkit serve (default: its own)")
    ap.add_argument("--data", type=Path, default=DATA, help="the shared corpora")
    args = ap.parse_args()
    if not 0 < args.seconds <= 600:
        raise SystemExit(f"--seconds must be in (0, 600], got {args.seconds}")
    counts = [int(n) for n in args.clients.split(",")]

    clip = real_clip(args.data)
    port = free_port()
    base = f"http://{HOST}:{port}"
    t0 = time.perf_counter()
    server = start_server(port, args.model, *(["--max-concurrent", str(args.max_concurrent)] if args.max_concurrent else []))
    try:
        health = wait_ready(server, base)
        print(f"serkit serve on {base}: model {health['model']}, max_concurrent {health['max_concurrent']}, "
              f"ready in {time.perf_counter() - t0:.1f} s; clip {clip[0]} ({len(clip[1]) / 1024:.0f} kB); "
              f"{os.cpu_count()} cores; {args.seconds:g} s per round")
        rss = [rss_mb(server.pid)]
        print(f"server RSS at start: {rss[0]:.1f} MB\n")
        print("| clients | req/s | pred/s | p50 ms | p95 ms | max ms | errors | 5xx | 503 | RSS MB |")
        print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for n in counts:
            r = asyncio.run(run_round(base, clip, n, args.seconds))
            rss.append(rss_mb(server.pid))
            five = sum(c for s, c in r.statuses.items() if s >= 500)
            print(f"| {n} | {r.answers / r.seconds:.1f} | {len(r.latencies) / r.seconds:.1f} | {r.pct(50):.0f} | "
                  f"{r.pct(95):.0f} | {max(r.latencies, default=float('nan')) * 1000:.0f} | {r.errors} | {five} | "
                  f"{r.statuses.get(503, 0)} | {rss[-1]:.1f} |", flush=True)
        if len(rss) >= 4:
            growth = (rss[-1] - rss[3]) / rss[3] * 100
            print(f"\nRSS growth from round 3 to the last round: {growth:+.1f}%")
        final = asyncio.run(_health(base))
        print(f"health after the rounds: status {final['status']}, errors last minute {final['errors_last_minute']}")
    finally:
        stop_server(server)


async def _health(base: str) -> dict:
    import httpx

    async with httpx.AsyncClient(base_url=base, timeout=10) as c:
        return (await c.get("/api/health")).json()


if __name__ == "__main__":
    main()
