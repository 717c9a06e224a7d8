"""callmask served by the real CLI as separate processes, for multi-process tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from tests.support import free_port


@dataclass
class Served:
    url: str
    process: subprocess.Popen[bytes]

    def worker_pids(self) -> list[int]:
        """The uvicorn worker processes under the supervisor (none when it serves alone)."""
        listing = subprocess.run(
            ["ps", "ww", "-o", "pid=,args=", "--ppid", str(self.process.pid)],
            capture_output=True,
            text=True,
        ).stdout.splitlines()
        # multiprocessing also starts a resource tracker; workers run spawn_main.
        return [int(line.split()[0]) for line in listing if "spawn_main" in line]


def stop(process: subprocess.Popen[bytes], grace_s: float) -> None:
    """End a process this test started: SIGTERM, then SIGKILL after grace_s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_up(url: str, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def serve(database_url: str, workers: int = 1, **env: str) -> Iterator[Served]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "callmask.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env={
            **os.environ,
            "CALLMASK_DATABASE_URL": database_url,
            "CALLMASK_LOG_LEVEL": "WARNING",
            **env,
        },
    )
    served = Served(f"http://127.0.0.1:{port}", process)
    try:
        wait_until_up(served.url)
        yield served
    finally:
        stop(process, grace_s=20)
