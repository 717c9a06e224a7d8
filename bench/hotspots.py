"""Where a server spends its CPU under load: py-spy samples, summed by function.

py-spy's raw format is one collapsed stack per line, `frame;frame;...;frame COUNT`, outermost
first, each frame `function (file:line)`. Samples in C code (sqlite3, orjson, hashlib) are
charged to the Python frame that called it, which names the query or call that costs.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

_FRAME = re.compile(r"^(?P<name>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
OWN = "callmask/"
# Every stack of the server starts in `callmask serve`; those frames say nothing about cost.
_ENTRY = "callmask/cli/__main__.py"


def ensure_py_spy() -> str:
    beside = Path(sys.executable).with_name("py-spy")
    if beside.exists():
        return str(beside)
    found = shutil.which("py-spy")
    if found:
        return found
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "py-spy"], check=True)
    return str(beside) if beside.exists() else "py-spy"


def record_command(
    py_spy: str, pid: int, seconds: int, output: Path, cpus: str | None = None
) -> list[str]:
    pin = ["taskset", "-c", cpus] if cpus else []
    return [
        *pin,
        py_spy,
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(seconds),
        "--rate",
        "250",
        "--format",
        "raw",
        "--nonblocking",
        "--output",
        str(output),
    ]


@dataclass(frozen=True)
class Frame:
    name: str
    file: str
    line: int

    @property
    def function(self) -> str:
        return f"{self.name} ({self.file})"

    @property
    def own(self) -> bool:
        return (self.file.startswith(OWN) or f"/{OWN}" in self.file) and not self.file.endswith(
            _ENTRY
        )

    @property
    def package(self) -> str:
        """The top-level package or stdlib module, as py-spy shortens file names."""
        top = self.file.split("/", 1)[0]
        return top.removesuffix(".py") or "?"


def _frame(text: str) -> Frame:
    match = _FRAME.match(text)
    if match is None:
        return Frame(text, "", 0)
    return Frame(match["name"], match["file"], int(match["line"] or 0))


@dataclass
class Profile:
    total: int
    inclusive: Counter[str]
    own_self: Counter[str]
    leaf: Counter[str]
    packages: Counter[str]
    # Samples with the package anywhere on the stack: its own code and what it calls.
    anywhere: Counter[str]

    def share(self, count: int) -> float:
        return count / self.total if self.total else 0.0


def load(raw: Path) -> Profile:
    """Sum samples three ways.

    inclusive: the function is anywhere on the stack.
    own_self: the deepest callmask frame, with the line it was on: callmask's own work and the
      library and C calls it made from that line, but not time under another callmask frame.
    leaf: the innermost Python frame, whatever package it is in.
    packages: the package of the innermost Python frame.
    anywhere: each package with a frame anywhere on the stack.
    """
    inclusive: Counter[str] = Counter()
    own_self: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    anywhere: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame(part) for part in stack.split(";") if "(" in part]
        if not frames:
            continue
        total += count
        for function in {frame.function for frame in frames if frame.own}:
            inclusive[function] += count
        leaf[f"{frames[-1].function}:{frames[-1].line}"] += count
        packages[frames[-1].package] += count
        for package in {frame.package for frame in frames}:
            anywhere[package] += count
        own = [frame for frame in frames if frame.own]
        if own:
            own_self[f"{own[-1].function}:{own[-1].line}"] += count
    return Profile(total, inclusive, own_self, leaf, packages, anywhere)


def summary(profile: Profile, top: int = 12) -> list[str]:
    """Markdown lines: the hottest callmask functions and lines, and the hottest leaves."""
    lines = [f"{profile.total} samples of active CPU (idle waits in epoll are not sampled).", ""]
    lines += ["| package of the innermost frame | share |", "|---|---|"]
    lines += [f"| {p} | {profile.share(n):.1%} |" for p, n in profile.packages.most_common(top)]
    lines += ["", "| callmask function (inclusive) | share |", "|---|---|"]
    lines += [f"| `{f}` | {profile.share(n):.1%} |" for f, n in profile.inclusive.most_common(top)]
    lines += ["", "| deepest callmask frame, by line (self + calls into libraries) | share |"]
    lines += ["|---|---|"]
    lines += [f"| `{f}` | {profile.share(n):.1%} |" for f, n in profile.own_self.most_common(top)]
    outside = profile.total - sum(profile.own_self.values())
    lines += [
        f"| (no callmask frame on the stack: server, framework, loop) | "
        f"{profile.share(outside):.1%} |"
    ]
    lines += ["", "| innermost Python frame, any package | share |", "|---|---|"]
    lines += [f"| `{f}` | {profile.share(n):.1%} |" for f, n in profile.leaf.most_common(top)]
    return lines
