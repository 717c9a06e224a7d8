"""docs/benchmarks.md: one page with every benchmark's latest tables.

`python -m bench.summary` (the last step of `make bench`) reads the reports the runners
wrote (docs/http.md, docs/pool.md, docs/scale.md, docs/calls.md, docs/calls-anchored.md,
docs/recording.md) and puts them on one page under a header naming the machine, the date and
the commands. It measures nothing itself; a report that is missing is named as missing rather
than left out silently.
"""

from __future__ import annotations

import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
OUTPUT = DOCS / "benchmarks.md"

# (report, what it answers, the short command make bench runs, the full-length command)
REPORTS = [
    (
        "http.md",
        "HTTP throughput of route, set and unset against a bare Starlette app",
        "python -m bench.http",
        "python -m bench.http --rounds 5 --duration 15 --warmup 3 --profile",
    ),
    (
        "pool.md",
        "how many pool numbers each workload needs, against delta",
        "python -m bench.pool",
        "python -m bench.pool --size 20000",
    ),
    (
        "scale.md",
        "route and set latency with a million live maskings and hubs of thousands",
        "python -m bench.scale",
        "python -m bench.scale --maskings 1000000 --output docs/scale-1m.md"
        " (its latest figures: [scale-1m.md](scale-1m.md))",
    ),
    (
        "calls.md",
        "SIP calls through Kamailio and callmask: the highest rate without a failed call",
        "python -m bench.calls",
        "python -m bench.calls --full",
    ),
    (
        "calls-anchored.md",
        "the same with media anchored through rtpengine: what anchoring costs in calls/s",
        "python -m bench.calls --rtpengine",
        "python -m bench.calls --rtpengine --full",
    ),
    (
        "recording.md",
        "what recording a call costs: rtpengine writing the capture, callmask making the WAV",
        "python -m bench.recording",
        "python -m bench.recording --calls 50 --seconds 120",
    ),
    (
        "console-load.md",
        "the console's overview: page weight and load time in Chromium, against the sign-in page",
        "python -m bench.console",
        "python -m bench.console --maskings 200000 --calls 50000 --rounds 30",
    ),
]


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _demoted(text: str) -> str:
    """A report's headings one level down, so each sits under its own section here; lines
    inside fenced code (shell comments) are left as they are."""
    lines, fenced = [], False
    for line in text.strip().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"#+ ", line):
            line = "#" + line
        lines.append(line)
    return "\n".join(lines)


def render() -> str:
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`.venv/bin/python -m bench.summary` gathers the reports the"
        " runners wrote into docs/); rerun it rather than edit the figures. The machine is"
        " shared and noisy: read ratios against the baselines measured in the same run.",
        "",
        f"Gathered {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} at commit {_commit()}"
        f" on {platform.system()} {platform.release()}, Python {platform.python_version()};"
        " each section gives its own measurement time, machine details and setup.",
        "",
        "| report | what it answers | make bench runs | full-length run |",
        "|---|---|---|---|",
    ]
    for name, about, short, full in REPORTS:
        command, _, note = full.partition(" (")
        note = f" ({note}" if note else ""
        lines.append(f"| [{name}]({name}) | {about} | `{short}` | `{command}`{note} |")
    for name, _, short, _ in REPORTS:
        path = DOCS / name
        lines += [""]
        if path.exists():
            lines.append(_demoted(path.read_text(encoding="utf-8")))
        else:
            lines += [f"## {name}", "", f"Missing: `{short}` has not written it yet."]
    return "\n".join(lines) + "\n"


def main() -> int:
    OUTPUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
