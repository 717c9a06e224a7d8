"""wrk as the load generator: install it, run one bounded load, parse what it prints."""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.cpu import cpu_seconds, machine_cores, machine_ticks

SCRIPTS = Path(__file__).parent / "wrk"

_UNITS_US = {"us": 1.0, "ms": 1_000.0, "s": 1_000_000.0, "m": 60_000_000.0}
_REQUESTS_PER_S = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_PERCENTILE = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s|m)\s*$", re.MULTILINE)


def ensure_wrk() -> str:
    """The wrk binary, installed from Debian's packages if missing (the runner is root)."""
    found = shutil.which("wrk")
    if found:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "wrk"]
    print("wrk is missing; running: " + " ".join(install), flush=True)
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=False)
        subprocess.run(install, env=env, capture_output=True, check=True)
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk could not be installed; apt-get install -y wrk")
    return found


@dataclass(frozen=True)
class Load:
    """One wrk run: what to hit, with which script and arguments, for how long."""

    url: str
    script: str
    args: tuple[str, ...] = ()
    duration_s: int = 10
    connections: int = 32
    threads: int = 1
    cpus: str | None = None

    def command(self, wrk: str = "wrk") -> list[str]:
        pin = ["taskset", "-c", self.cpus] if self.cpus else []
        return [
            *pin,
            wrk,
            f"-t{self.threads}",
            f"-c{self.connections}",
            f"-d{self.duration_s}s",
            "--latency",
            "-s",
            str(SCRIPTS / self.script),
            self.url,
            *(["--", *self.args] if self.args else []),
        ]


@dataclass
class Result:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    failures: int
    socket_errors: int
    codes: dict[str, int] = field(default_factory=dict)
    sample: str = ""
    # CPU used over the run, in cores: near 1.0 means the process was the bottleneck.
    server_cpu: float | None = None
    client_cpu: float | None = None
    # The database's own processes (PostgreSQL backends serving the server), when watched:
    # their CPU in cores, and how often they waited for the next message (one wait per
    # round trip from the server, and one for a commit's WAL flush).
    db_cpu: float | None = None
    db_waits: int | None = None
    # Share of samples of the database's backends in each state (see bench/schema.py).
    db_states: dict[str, float] = field(default_factory=dict)
    # Cores busy on the whole machine over the run, whoever used them.
    machine_cpu: float | None = None

    @property
    def other_cpu(self) -> float | None:
        """Cores used by processes not in this run (the machine is shared), at least 0."""
        if self.machine_cpu is None:
            return None
        ours = (self.server_cpu or 0) + (self.db_cpu or 0) + (self.client_cpu or 0)
        return max(self.machine_cpu - ours, 0.0)

    @property
    def db_waits_per_request(self) -> float | None:
        if self.db_waits is None or not self.requests:
            return None
        return self.db_waits / self.requests

    @property
    def errors(self) -> int:
        return self.failures + self.socket_errors


def parse(output: str) -> Result:
    """Requests/sec and p50/p99 from wrk's --latency text; error counts from our RESULT line."""
    rate = _REQUESTS_PER_S.search(output)
    marker = next((line for line in output.splitlines() if line.startswith("RESULT ")), None)
    if rate is None or marker is None:
        raise ValueError("wrk printed no result:\n" + output[-2000:])
    done = json.loads(marker.removeprefix("RESULT "))
    percentiles = {
        int(p): float(value) * _UNITS_US[unit] / 1000
        for p, value, unit in _PERCENTILE.findall(output)
    }
    return Result(
        requests_per_s=float(rate.group(1)),
        p50_ms=percentiles.get(50, done["p50_us"] / 1000),
        p99_ms=percentiles.get(99, done["p99_us"] / 1000),
        requests=int(done["requests"]),
        failures=int(done["failures"]),
        socket_errors=sum(int(done[k]) for k in ("connect", "read", "write", "timeout")),
        codes={str(k): int(v) for k, v in done["codes"].items()},
        sample=str(done["sample"]),
    )


def _waits(pids: Sequence[int]) -> int | None:
    """Voluntary context switches of processes so far: each time one blocked on something."""
    total, seen = 0, False
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("voluntary_ctxt_switches:"):
                total += int(line.split()[1])
                seen = True
    return total if seen else None


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(
    load: Load,
    wrk: str = "wrk",
    log: Path | None = None,
    server_pids: Sequence[int] = (),
    db_pids: Sequence[int] = (),
) -> Result:
    """Run wrk once; measure the CPU of the server's and the database's processes meanwhile."""
    command = load.command(wrk)
    server_before = cpu_seconds(server_pids)
    db_before, waits_before = cpu_seconds(db_pids), _waits(db_pids)
    machine_before = machine_ticks()
    client_before, started = _children_cpu(), time.monotonic()
    finished = subprocess.run(
        command, capture_output=True, text=True, timeout=load.duration_s + 60, check=False
    )
    elapsed = time.monotonic() - started
    client_cpu = (_children_cpu() - client_before) / elapsed
    server_after = cpu_seconds(server_pids)
    db_after, waits_after = cpu_seconds(db_pids), _waits(db_pids)
    machine_after = machine_ticks()
    output = finished.stdout + finished.stderr
    if log is not None:
        with log.open("a", encoding="utf-8") as out:
            out.write("$ " + " ".join(command) + "\n" + output + "\n")
    if finished.returncode != 0:
        raise RuntimeError(f"wrk exited {finished.returncode}:\n{output[-2000:]}")
    result = parse(output)
    result.client_cpu = client_cpu
    if server_before is not None and server_after is not None:
        result.server_cpu = (server_after - server_before) / elapsed
    if db_before is not None and db_after is not None:
        result.db_cpu = (db_after - db_before) / elapsed
    if waits_before is not None and waits_after is not None:
        result.db_waits = waits_after - waits_before
    result.machine_cpu = machine_cores(machine_before, machine_after)
    return result
