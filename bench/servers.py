"""Server processes the runner starts, pins to a core, waits for, and stops by their own PIDs.

A server may fork: `uvicorn --workers N` runs a supervisor and N worker processes (and
multiprocessing's resource tracker). The runner learns every descendant's PID while the
server runs, and `stop` makes sure each one has ended, so nothing outlives the run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stat(pid: int) -> list[str] | None:
    """/proc/PID/stat from the state field on (the command name may hold spaces)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _started(pid: int) -> int | None:
    """Start time in clock ticks since boot; with the PID, names one process for good."""
    fields = _stat(pid)
    return None if fields is None else int(fields[19])


def alive(pid: int, started: int) -> bool:
    """Whether this very process (not a later one given the same PID) still runs."""
    fields = _stat(pid)
    return fields is not None and fields[0] not in ("Z", "X") and int(fields[19]) == started


def descendants(pid: int) -> list[int]:
    """Children, grandchildren, ... of pid, from the parent fields in /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class Server:
    """One server subprocess and whatever it forks; `stop` ends each of them by PID."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        port: int,
        log: Path,
        env: Mapping[str, str] | None = None,
        cpus: str | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        # taskset execs the server, so the PID we hold is the server's own.
        self.argv = [*(["taskset", "-c", cpus] if cpus else []), *argv]
        self._out = log.open("ab")
        self.process = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=cwd,
        )
        # Every process seen in the tree, with its start time, so stop() can tell it apart
        # from an unrelated process that later reuses the PID.
        self._seen: dict[int, int] = {}

    @property
    def pid(self) -> int:
        return self.process.pid

    def pids(self) -> list[int]:
        """The server and its descendants now; each is remembered for stop()."""
        tree = [self.pid, *descendants(self.pid)] if self.process.poll() is None else []
        for pid in tree:
            started = _started(pid)
            if started is not None:
                self._seen.setdefault(pid, started)
        return tree

    def workers(self) -> list[int]:
        """The worker processes of a multiprocess server (multiprocessing spawns them)."""
        found = []
        for pid in self.pids()[1:]:
            with contextlib.suppress(OSError):
                if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    found.append(pid)
        return found

    def wait_ready(self, path: str = "/healthz", timeout_s: float = 30.0, workers: int = 0) -> None:
        """Until path answers 200 and at least `workers` worker processes run."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.process.returncode}: {self.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                answered = httpx.get(self.url + path, timeout=1.0).status_code == 200
                if answered and len(self.workers()) >= workers:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {timeout_s:.0f} s: {self.tail()}")

    def tail(self, size: int = 2000) -> str:
        self._out.flush()
        return self.log.read_bytes()[-size:].decode("utf-8", "replace")

    def stop(self, grace_s: float = 10.0) -> list[int]:
        """SIGTERM the server, then anything of its tree still running; SIGKILL after grace_s.

        Returns the PIDs that had to be killed with SIGKILL (empty when all ended cleanly).
        """
        self.pids()
        killed: list[int] = []
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=grace_s)
                killed.append(self.pid)
        # A supervisor that ended first leaves its workers to init: end them by PID.
        left = {pid: started for pid, started in self._seen.items() if alive(pid, started)}
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while left and time.monotonic() < deadline:
            time.sleep(0.1)
            left = {pid: started for pid, started in left.items() if alive(pid, started)}
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        self._out.close()
        return killed
