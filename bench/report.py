"""Figures of a run: the comparison table, the targets, the machine, and docs/http.md."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from bench.hotspots import Profile, summary
from bench.load import Result
from bench.schema import STATES


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
# The targets are for the embedded default; PostgreSQL and several workers are reported only.
TARGET_SETUP = ("sqlite", 1)


@dataclass(frozen=True)
class Setup:
    """One way of serving callmask: a database backend and a number of worker processes."""

    backend: str
    workers: int

    def describe(self) -> str:
        return f"{self.backend}, {self.workers} worker{'s' if self.workers > 1 else ''}"


@dataclass
class Comparison:
    workload: str
    setup: Setup
    bare: list[Result] = field(default_factory=list)
    callmask: list[Result] = field(default_factory=list)

    @property
    def target(self) -> Target | None:
        if (self.setup.backend, self.setup.workers) != TARGET_SETUP:
            return None
        return TARGETS.get(self.workload)

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

    def median(self, value: Callable[[Result], float | None], bare: bool = False) -> float | None:
        """Median over rounds of a per-run figure, or None when no run has it."""
        known = [v for r in (self.bare if bare else self.callmask) if (v := value(r)) is not None]
        return statistics.median(known) if known else None

    def verdict(self) -> str:
        target = self.target
        if target is None:
            return "no target" + (f" ({self.errors} errors)" if self.errors else "")
        misses = []
        if self.ratio < target.min_ratio:
            misses.append(f"ratio {self.ratio:.2f} < {target.min_ratio:.2f}")
        if target.max_p99_ms is not None and self.p99_ms > target.max_p99_ms:
            misses.append(f"p99 {self.p99_ms:.1f} ms > {target.max_p99_ms:g} ms")
        if self.errors:
            misses.append(f"{self.errors} errors")
        return "met" if not misses else "NOT met: " + "; ".join(misses)


def cpu_us(result: Result) -> float | None:
    """Server CPU per request, in microseconds."""
    if result.server_cpu is None or not result.requests_per_s:
        return None
    return result.server_cpu / result.requests_per_s * 1e6


def db_cpu_us(result: Result) -> float | None:
    """CPU of the database's backends per request, in microseconds."""
    if result.db_cpu is None or not result.requests_per_s:
        return None
    return result.db_cpu / result.requests_per_s * 1e6


def table(comparisons: list[Comparison]) -> list[str]:
    lines = [
        "| workload | backend | workers | bare req/s | callmask req/s | ratio | p50 | p99"
        " | errors | target | verdict |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for c in comparisons:
        target = c.target
        lines.append(
            f"| {c.workload} | {c.setup.backend} | {c.setup.workers} | {c.bare_rps:,.0f}"
            f" | {c.callmask_rps:,.0f} | {c.ratio:.2f}x | {c.p50_ms:.2f} ms | {c.p99_ms:.2f} ms"
            f" | {c.errors} | {target.describe() if target else '-'} | {c.verdict()} |"
        )
    return lines


def rounds_table(comparisons: list[Comparison]) -> list[str]:
    lines = [
        "| workload | backend | workers | round | bare req/s | bare p50 / p99 | callmask req/s"
        " | callmask p50 / p99 | ratio | callmask errors | server CPU bare / callmask"
        " | server CPU µs per request bare / callmask | PostgreSQL backends CPU | backend"
        " waits per request | wrk CPU bare / callmask | machine busy bare / callmask"
        " | other processes bare / callmask |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in comparisons:
        for index, (b, m) in enumerate(zip(c.bare, c.callmask, strict=True), 1):
            codes = ", ".join(f"{code}: {n}" for code, n in sorted(m.codes.items()))
            errors = f"{m.errors}" + (f" ({codes})" if codes else "")
            lines.append(
                f"| {c.workload} | {c.setup.backend} | {c.setup.workers} | {index}"
                f" | {b.requests_per_s:,.0f} | {b.p50_ms:.2f} / {b.p99_ms:.2f} ms"
                f" | {m.requests_per_s:,.0f} | {m.p50_ms:.2f} / {m.p99_ms:.2f} ms"
                f" | {m.requests_per_s / b.requests_per_s:.2f}x | {errors}"
                f" | {_fixed(b.server_cpu)} / {_fixed(m.server_cpu)}"
                f" | {_fixed(cpu_us(b), 0)} / {_fixed(cpu_us(m), 0)}"
                f" | {_fixed(m.db_cpu)} | {_fixed(m.db_waits_per_request, 1)}"
                f" | {_fixed(b.client_cpu)} / {_fixed(m.client_cpu)}"
                f" | {_fixed(b.machine_cpu)} / {_fixed(m.machine_cpu)}"
                f" | {_fixed(b.other_cpu)} / {_fixed(m.other_cpu)} |"
            )
    return lines


def states_table(comparisons: list[Comparison]) -> list[str]:
    """What callmask's PostgreSQL backends were doing under each load (median over rounds)."""
    measured = [c for c in comparisons if any(r.db_states for r in c.callmask)]
    states = [
        state for state in STATES if any(state in r.db_states for c in measured for r in c.callmask)
    ]
    for c in measured:
        for r in c.callmask:
            states += [state for state in r.db_states if state not in states]
    if not measured:
        return []
    lines = [
        "| workload | workers | " + " | ".join(states) + " |",
        "|---|---:|" + "---:|" * len(states),
    ]
    for c in measured:
        shares = [
            statistics.median(r.db_states.get(state, 0.0) for r in c.callmask) for state in states
        ]
        lines.append(
            f"| {c.workload} | {c.setup.workers} | "
            + " | ".join(f"{share:.0%}" for share in shares)
            + " |"
        )
    return lines


def _fixed(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _find(comparisons: list[Comparison], workload: str, setup: Setup) -> Comparison | None:
    return next((c for c in comparisons if c.workload == workload and c.setup == setup), None)


# Where a set's CPU went when last profiled (py-spy on the ASGI app in-process, 32 concurrent
# sets on SQLite, 2026-11-26); `--profile` gives this run's own breakdown.
_SET_PROFILE = (
    "Profiled (py-spy, 32 concurrent sets through the ASGI app on SQLite, 2026-11-26; rerun"
    " with `--profile` for this run's own breakdown), a set's CPU goes about a third to"
    " SQLite writing it: 14 index entries (maskings has 9 indexes for the pair rule, routing's"
    " 'expired' answers and the reports, claims 3), the COMMIT's WAL pages and the checkpoint"
    " thread copying them back (group commit shares one COMMIT among the sets of one"
    " event-loop turn, but each set still dirties its own pages); a sixth to the reads before"
    " the insert (lapsed masking and claims, the open pair, the previous number, the pool"
    " walk); about 14% to phonenumbers (parse and validate two numbers never seen before,"
    " ~14 µs each); the access log line and the framework the rest. The bare app only"
    " parses JSON and answers."
)


def target_gaps(comparisons: list[Comparison]) -> list[str]:
    """For each target this run missed: how far, in CPU per request, and why."""
    lines: list[str] = []
    for c in comparisons:
        target = c.target
        if target is None or c.setup != Setup(*TARGET_SETUP) or c.verdict() == "met":
            continue
        mine = c.median(cpu_us)
        bare = c.median(cpu_us, bare=True)
        if mine is None or bare is None:
            continue
        allowed = bare / target.min_ratio
        text = (
            f"**{c.workload}** ({c.ratio:.2f}x against {target.min_ratio:.2f}x): callmask's"
            f" process used {mine:,.0f} µs of CPU per request and the bare app {bare:,.0f} µs,"
            f" so the target allows {allowed:,.0f} µs, {mine / allowed:.1f}x less than"
            " callmask spends."
        )
        if c.workload == "set":
            text += " " + _SET_PROFILE
        lines += [text, ""]
    return lines


def postgres_gap(
    comparisons: list[Comparison],
    profiles: dict[tuple[str, Setup], Profile],
    pool_size: int,
) -> list[str]:
    """Why PostgreSQL trails SQLite, in this run's own figures (empty if one is missing)."""
    sqlite, postgres = Setup("sqlite", 1), Setup("postgresql", 1)
    lines: list[str] = []
    for workload in ("route", "set", "unset"):
        lite, pg = _find(comparisons, workload, sqlite), _find(comparisons, workload, postgres)
        if lite is None or pg is None:
            continue
        lines += [_gap(lite, pg, pool_size), ""]
        profile = profiles.get((workload, postgres))
        if profile is not None and profile.total:
            lines += [_cited(profile, workload), ""]
    for c in comparisons:
        one = _find(comparisons, c.workload, postgres)
        if c.setup != Setup("postgresql", 2) or one is None:
            continue
        server, db = c.median(lambda r: r.server_cpu), c.median(lambda r: r.db_cpu)
        wrk, other = c.median(lambda r: r.client_cpu), c.median(lambda r: r.other_cpu)
        busy = (
            f" (cores used: callmask {server:.2f}, its PostgreSQL backends {db:.2f}, wrk"
            f" {wrk:.2f}, processes outside the run {other:.2f})"
            if server is not None and db is not None and wrk is not None and other is not None
            else ""
        )
        lines += [
            f"**{c.workload}, 2 workers**: {c.callmask_rps:,.0f} req/s,"
            f" {c.callmask_rps / one.callmask_rps:.2f}x one worker on PostgreSQL, while the"
            f" bare app went {c.bare_rps / one.bare_rps:.2f}x from 1 to 2 workers (the two"
            " are measured minutes apart, so this is noisier than the ratios). On this"
            " 2-core box a second worker has no core of its own: the workers run unpinned"
            f" beside wrk and the PostgreSQL backends{busy}.",
            "",
        ]
    return lines


def _gap(lite: Comparison, pg: Comparison, pool_size: int) -> str:
    """One paragraph: the two backends' rates, CPU per request, round trips and waits."""
    text = (
        f"**{pg.workload}**: on PostgreSQL callmask answers {pg.callmask_rps:,.0f} req/s"
        f" ({pg.ratio:.2f}x bare) against {lite.callmask_rps:,.0f} ({lite.ratio:.2f}x) on"
        f" SQLite, {pg.callmask_rps / lite.callmask_rps:.2f}x as many."
    )
    lite_us, pg_us = lite.median(cpu_us), pg.median(cpu_us)
    bare_us, db_us = pg.median(cpu_us, bare=True), pg.median(db_cpu_us)
    waits = pg.median(lambda r: r.db_waits_per_request)
    server, db = pg.median(lambda r: r.server_cpu), pg.median(lambda r: r.db_cpu)
    wrk, busy = pg.median(lambda r: r.client_cpu), pg.median(lambda r: r.machine_cpu)
    other = pg.median(lambda r: r.other_cpu)
    if lite_us is None or pg_us is None or bare_us is None:
        return text
    text += (
        f" Per request, callmask's process used {pg_us:,.0f} µs of CPU against"
        f" {lite_us:,.0f} µs on SQLite (the bare app {bare_us:,.0f} µs)"
    )
    if db_us is None or waits is None or server is None or db is None or wrk is None:
        return text + "."
    text += (
        f", and PostgreSQL's backends another {db_us:,.0f} µs on the same 2 cores. They"
        f" waited {waits:.1f} times per request: about one per round trip (every statement"
        " callmask sends is one), plus waits on locks and, for a write, on the WAL flush at"
        " commit."
    )
    cost = (
        "asyncpg encoding the statement and decoding the answer, a socket send and receive,"
        " its timeout timer, the pool checkout, and an event-loop wake-up, where SQLite runs"
        " each statement as an in-process call on the event loop."
    )
    if round(waits) == 1:
        text += f" The {pg_us - lite_us:,.0f} µs more in callmask are that one round trip: {cost}"
    elif waits > 1:
        text += (
            f" The {pg_us - lite_us:,.0f} µs more in callmask come to about"
            f" {(pg_us - lite_us) / waits:,.0f} µs per round trip: {cost}"
        )
    states = {
        state: statistics.median(r.db_states.get(state, 0.0) for r in pg.callmask)
        for state in {s for r in pg.callmask for s in r.db_states}
    }
    if states:
        inside = states.get(STATES[0], 0.0)
        between = states.get(STATES[1], 0.0)
        text += (
            f" Sampled in pg_stat_activity, the backends were waiting for callmask"
            f" {inside + between:.0%} of the time ({inside:.0%} inside a transaction, for its"
            f" next statement; {between:.0%} between transactions) and busy the other"
            f" {1 - inside - between:.0%} (running, on the WAL, on locks, on the socket): the"
            " database waits for the Python process, not the reverse."
        )
    if server >= 0.9:
        text += f" callmask's process was saturated ({server:.2f} cores): that CPU sets the rate."
    elif busy is not None and other is not None and busy >= 1.8:
        text += (
            f" callmask's process got only {server:.2f} cores although the machine was busy"
            f" ({busy:.2f} of 2 cores: callmask {server:.2f}, backends {db:.2f}, wrk"
            f" {wrk:.2f}, processes outside the run {other:.2f}): its core is shared, with the"
            " backends it wakes (PostgreSQL is not pinned) and with the rest of this shared"
            " machine."
        )
    else:
        text += (
            f" callmask's process was not saturated ({server:.2f} cores), nor the machine"
            f" ({_fixed(busy)} of 2 cores busy): each request also holds one of the pool's"
            f" {pool_size} connections while it waits for its round trips and its commit, so"
            " latency as well as CPU bounds the rate."
        )
    return text


def _cited(profile: Profile, workload: str) -> str:
    """The profile of callmask on PostgreSQL under workload, in one sentence."""
    on_stack = ", ".join(
        f"{name} {profile.share(profile.anywhere[name]):.0%}"
        for name in ("asyncpg", "callmask", "starlette", "uvicorn", "asyncio")
        if profile.anywhere[name]
    )
    frames = "; ".join(
        f"`{frame}` {profile.share(n):.1%}" for frame, n in profile.leaf.most_common(4)
    )
    return (
        f"py-spy on callmask under the PostgreSQL {workload} load ({profile.total} samples of"
        f" active CPU; C code is charged to the Python frame that called it): share of"
        f" samples with a frame of each package on the stack: {on_stack}; top innermost"
        f" frames: {frames}."
    )


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
        for name in ("uvicorn", "starlette", "orjson", "uvloop", "httptools", "asyncpg")
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
    profiles: dict[tuple[str, Setup], Profile],
    profile_notes: dict[tuple[str, Setup], list[str]],
    gap: list[str],
) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    targeted = [c for c in comparisons if c.target is not None]
    met = all(c.verdict() == "met" for c in targeted)
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
        " back to back, against the bare app with as many workers; req/s, p50 and p99: medians"
        " over rounds (p50/p99 are callmask's); errors: callmask answers that were not a"
        " success (set, unset) or not `connect` (route), plus socket errors and timeouts,"
        " summed over the measured rounds.",
        "",
        f"Targets (from the project's issues; SQLite, 1 worker, 32 connections only): route"
        f" {TARGETS['route'].describe()}; set {TARGETS['set'].describe()}."
        + (
            f" {'All are met in this run.' if met else 'Not all are met in this run.'}"
            if targeted
            else " Not measured in this run."
        )
        + " unset and PostgreSQL have no target; their figures are reported as measured.",
        "",
    ]
    lines += [
        "### Rounds",
        "",
        *rounds_table(comparisons),
        "",
        "CPU columns: cores used over the run (user + system, from /proc and getrusage); a"
        " server near 1.00 per worker is saturated, and wrk well below 1.00 is not the"
        " bottleneck. Server CPU counts every process of the server (a 2-worker server is a"
        " supervisor and 2 workers); callmask's includes SQLite's WAL checkpoint thread."
        " PostgreSQL backends: the server processes of callmask's connections (found by"
        " application_name), which run on whichever core is free; backend waits: their"
        " voluntary context switches per request: about one per round trip from callmask, plus"
        " waits on locks and on the WAL flush at commit. Machine busy: cores busy on the"
        " whole machine (/proc/stat); other processes: what was busy beyond the server, its"
        " backends and wrk, i.e. other work on this shared machine.",
        "",
    ]
    missed = target_gaps(comparisons)
    if missed:
        lines += ["## Targets not met", "", *missed]
    if gap:
        lines += ["## PostgreSQL against SQLite", "", *gap]
    states = states_table(comparisons)
    if states:
        lines += [
            "What callmask's PostgreSQL backends were doing, sampled every 50 ms in"
            " pg_stat_activity during each measured load (median over rounds):",
            "",
            *states,
            "",
        ]
    for (workload, setup), profile in profiles.items():
        lines += [
            f"## Where callmask spends its CPU: {workload}, {setup.describe()}",
            "",
            *profile_notes.get((workload, setup), []),
            *summary(profile),
            "",
        ]
    lines += ["## Commands", "", "```sh", *commands, "```", ""]
    return "\n".join(lines)
