"""CPU time of the processes a runner started, and of the whole machine, read from /proc."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

_TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    """/proc/PID/stat from the state field on (the command name may hold spaces)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def cpu_seconds(pids: Sequence[int]) -> float | None:
    """User plus system CPU time of processes so far; None if none can be read."""
    total, seen = 0.0, False
    for pid in pids:
        fields = _stat(pid)
        if fields is None:
            continue
        total += (int(fields[11]) + int(fields[12])) * _TICK_S
        seen = True
    return total if seen else None


def machine_ticks() -> tuple[int, int] | None:
    """(busy, total) clock ticks of all CPUs so far, from /proc/stat."""
    try:
        first = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    ticks = [int(value) for value in first[1:9]]
    idle = ticks[3] + ticks[4]
    return sum(ticks) - idle, sum(ticks)


def machine_cores(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    """Cores the whole machine kept busy between two machine_ticks() readings."""
    if before is None or after is None or after[1] == before[1]:
        return None
    busy, total = after[0] - before[0], after[1] - before[1]
    return busy / total * (os.cpu_count() or 1)
