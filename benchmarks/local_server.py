"""A `serkit serve` process on loopback for the benchmarks that load it (server.py, live.py): one copy."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

HOST = "127.0.0.1"  # loopback only: the benchmarks never send traffic anywhere else
STARTUP_SECONDS = 180.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_server(port: int, model: str | None, *extra: str, core: int | None = None) -> subprocess.Popen:
    """`serkit serve` single-threaded on HOST:port, optionally pinned to one core before it loads anything."""
    cmd = [sys.executable, "-m", "serkit.cli", "serve", "--host", HOST, "--port", str(port), *extra]
    if model:
        cmd += ["--model", model]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if core is not None:
        os.sched_setaffinity(server.pid, {core})
    return server


def wait_ready(server: subprocess.Popen, base: str) -> dict:
    """/api/health once the server answers it; SystemExit with its stderr if it dies or never answers."""
    import httpx

    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"serkit serve exited with {server.returncode}: {server.stderr.read().strip()}")
        try:
            r = httpx.get(base + "/api/health", timeout=2)
            if r.status_code == 200:
                return r.json()
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise SystemExit(f"serkit serve did not answer within {STARTUP_SECONDS:g} s")


def stop_server(server: subprocess.Popen, timeout: float = 15.0) -> None:
    """End the server: SIGTERM (uvicorn's graceful shutdown), then SIGKILL if it is still there after timeout."""
    server.terminate()
    try:
        server.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
