"""Figures of a run: the comparison table, the targets, the machine, and docs/benchmarks.md."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from bench.load import Result


@dataclass(frozen=True)
class Target:
    """What the project's issues ask of callmask on SQLite, 1 worker, 32 connections."""

    min_ratio: float
    max_p99_ms: float | None = None

    def describe(self) -> str:
        text = f">= {self.min_ratio:.2f}x bare"
        return text + (f", p99 <= {self.max_p99_ms:g} ms" if self.max_p99_ms else "")


TARGETS = {
    "route": Target(0.75, 10.0),
    "set": Target(0.45),
}


@dataclass
class Comparison:
    workload: str
    bare: list[Result] = field(default_factory=list)
    callmask: list[Result] = field(default_factory=list)

    @property
    def bare_rps(self) -> float:
        return statistics.median(r.requests_per_s for r in self.bare)

    @property
    def callmask_rps(self) -> float:
        return statistics.median(r.requests_per_s for r in self.callmask)

    @property
    def ratio(self) -> float:
        # Each round measures both apps back to back; the median of those paired ratios is
        # steadier on a noisy machine than a ratio of medians.
        return statistics.median(
            c.requests_per_s / b.requests_per_s
            for b, c in zip(self.bare, self.callmask, strict=True)
        )

    @property
    def p50_ms(self) -> float:
        return statistics.median(r.p50_ms for r in self.callmask)

    @property
    def p99_ms(self) -> float:
        return statistics.median(r.p99_ms for r in self.callmask)

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.callmask)

    @property
    def bare_errors(self) -> int:
        return sum(r.errors for r in self.bare)

    def verdict(self) -> str:
        target = TARGETS.get(self.workload)
        if target is None:
            return "no target"
        misses = []
        if self.ratio < target.min_ratio:
            misses.append(f"ratio {self.ratio:.2f} < {target.min_ratio:.2f}")
        if target.max_p99_ms is not None and self.p99_ms > target.max_p99_ms:
            misses.append(f"p99 {self.p99_ms:.1f} ms > {target.max_p99_ms:g} ms")
        if self.errors:
            misses.append(f"{self.errors} errors")
        return "met" if not misses else "NOT met: " + "; ".join(misses)


def table(comparisons: list[Comparison]) -> list[str]:
    lines = [
        "| workload | bare req/s | callmask req/s | ratio | p50 | p99 | errors | target"
        " | verdict |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for c in comparisons:
        target = TARGETS.get(c.workload)
        lines.append(
            f"| {c.workload} | {c.bare_rps:,.0f} | {c.callmask_rps:,.0f} | {c.ratio:.2f}x"
            f" | {c.p50_ms:.2f} ms | {c.p99_ms:.2f} ms | {c.errors}"
            f" | {target.describe() if target else '-'} | {c.verdict()} |"
        )
    return lines


def rounds_table(comparisons: list[Comparison]) -> list[str]:
    lines = [
        "| workload | round | bare req/s | bare p50 / p99 | callmask req/s | callmask p50 / p99"
        " | ratio | callmask errors | server CPU bare / callmask | wrk CPU bare / callmask |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for c in comparisons:
        for index, (b, m) in enumerate(zip(c.bare, c.callmask, strict=True), 1):
            codes = ", ".join(f"{code}: {n}" for code, n in sorted(m.codes.items()))
            errors = f"{m.errors}" + (f" ({codes})" if codes else "")
            lines.append(
                f"| {c.workload} | {index} | {b.requests_per_s:,.0f}"
                f" | {b.p50_ms:.2f} / {b.p99_ms:.2f} ms | {m.requests_per_s:,.0f}"
                f" | {m.p50_ms:.2f} / {m.p99_ms:.2f} ms"
                f" | {m.requests_per_s / b.requests_per_s:.2f}x | {errors}"
                f" | {_cores(b.server_cpu)} / {_cores(m.server_cpu)}"
                f" | {_cores(b.client_cpu)} / {_cores(m.client_cpu)} |"
            )
    return lines


def _cores(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine(wrk: str) -> list[str]:
    wrk_version = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)
    first = (wrk_version.stdout or wrk_version.stderr).strip().splitlines()
    packages = ", ".join(
        f"{name} {_version(name)}"
        for name in ("uvicorn", "starlette", "orjson", "uvloop", "httptools")
    )
    return [
        f"- CPUs: {os.cpu_count()} ({_cpu_model()})",
        f"- OS: {platform.system()} {platform.release()}",
        f"- Python: {platform.python_version()} ({platform.python_implementation()})",
        f"- wrk: {first[0] if first else 'unknown'}",
        f"- packages: {packages}",
    ]


def markdown(
    comparisons: list[Comparison],
    machine_lines: list[str],
    commands: list[str],
    settings: list[str],
    profiles: dict[str, list[str]],
) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    met = all(c.verdict() == "met" for c in comparisons if c.workload in TARGETS)
    lines = [
        "# HTTP throughput",
        "",
        "Written by `make bench` (`.venv/bin/python -m bench.http`); rerun it rather than edit"
        " the figures. The machine is shared and noisy: read the ratios, which compare callmask"
        " with a bare app measured in the same run, not the absolute req/s.",
        "",
        f"Measured {now}.",
        "",
        "## Machine",
        "",
        *machine_lines,
        "",
        "## Setup",
        "",
        *settings,
        "",
        "## Results",
        "",
        *table(comparisons),
        "",
        "ratio: median over rounds of callmask req/s / bare req/s, each round measuring both"
        " back to back; req/s, p50 and p99: medians over rounds (p50/p99 are callmask's);"
        " errors: callmask answers that were not a success (set) or not `connect` (route),"
        " plus socket errors and timeouts, summed over the measured rounds.",
        "",
        f"Targets (from the project's issues; SQLite, 1 worker, 32 connections): route"
        f" {TARGETS['route'].describe()}; set {TARGETS['set'].describe()}."
        f" {'All are met in this run.' if met else 'Not all are met in this run.'}",
        "",
        "### Rounds",
        "",
        *rounds_table(comparisons),
        "",
        "CPU columns: cores used over the run (user + system, from /proc and getrusage); a"
        " server near 1.00 is saturated, and wrk well below 1.00 is not the bottleneck. The"
        " callmask figure includes its WAL checkpoint thread, which shares the server's core.",
        "",
    ]
    for workload, profile in profiles.items():
        lines += [f"## Where callmask spends its CPU: {workload}", "", *profile, ""]
    lines += ["## Commands", "", "```sh", *commands, "```", ""]
    return "\n".join(lines)
