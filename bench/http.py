"""HTTP throughput of callmask against a bare Starlette app, measured in the same run.

`python -m bench.http` (or `make bench`): installs wrk if missing, builds a fresh SQLite
database with the real CLI, starts the bare app (bench/baseline.py) and `callmask serve`,
each one worker pinned to one core while wrk runs pinned to the other, and compares:

- route: GET /api/v2/Masking/route for live maskings created over the API before the run;
- set: POST /api/v2/Masking/set, every request a new pair of parties.

Every load is bounded in time (`--duration`). Prints a table and writes docs/benchmarks.md;
`--profile` adds a py-spy profile of callmask under each load.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import hotspots, load, report, seed
from bench.servers import Server, free_port

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"
# Slots 0..89 number the set runs against callmask (see bench/wrk/set.lua); the bare app
# ignores the numbers, so its runs all use slot 90.
_BARE_SLOT = 90


@dataclass(frozen=True)
class Workload:
    name: str
    path: str
    script: str
    # Arguments for the script, given whether the run is against callmask.
    args: Callable[[bool], tuple[str, ...]]


class Slots:
    """Hands out number slots so no two set runs against callmask send the same pair."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self.next = 0

    def take(self) -> int:
        slot = self.next
        self.next += self.threads
        if self.next > _BARE_SLOT:
            raise RuntimeError("out of number slots: fewer rounds or threads")
        return slot


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.http", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured load")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per app/load")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds (median is kept)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--route-maskings", type=int, default=2000)
    parser.add_argument("--workloads", default="route,set", help="comma-separated: route,set")
    parser.add_argument("--profile", action="store_true", help="py-spy callmask under each load")
    parser.add_argument("--output", type=Path, default=DOCS, help="markdown report to write")
    parser.add_argument("--no-output", action="store_true", help="print only")
    parser.add_argument("--keep", action="store_true", help="keep the database in the work dir")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.duration > 120 or args.rounds <= 0:
        parser.error("--duration must be 1..120 s and --rounds positive")
    return args


def _cpus() -> tuple[str | None, str | None]:
    """(client, server) cores: wrk on core 0, the server on core 1, when there are two."""
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        return None, None
    return str(available[0]), str(available[1])


def _public(commands: list[str], placeholders: dict[str, str]) -> list[str]:
    """The commands as a reader can rerun them: no tokens, temp paths or ports; once each."""
    shown: list[str] = []
    for command in commands:
        for value, name in placeholders.items():
            command = command.replace(value, name)
        command = re.sub(r"set\.lua (\S+) -- \d+ ", r"set.lua \1 -- $SLOT ", command)
        if command not in shown:
            shown.append(command)
    return shown


def _revision() -> str:
    """The commit measured, and whether src/ had uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return "unknown"
    return (head or "unknown") + (" with uncommitted changes in src/" if dirty else "")


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    wrk = load.ensure_wrk()
    py_spy = hotspots.ensure_py_spy() if args.profile else "py-spy"
    client_cpu, server_cpu = _cpus()
    names = [name.strip() for name in args.workloads.split(",") if name.strip()]
    workdir = Path(tempfile.mkdtemp(prefix="callmask-bench-"))
    env = {"CALLMASK_DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}"}
    wrk_log = workdir / "wrk.log"
    pinning = (
        f"wrk pinned to CPU {client_cpu} (`taskset -c {client_cpu}`), each server to CPU"
        f" {server_cpu} (`taskset -c {server_cpu}`)"
        if client_cpu
        else "not pinned: fewer than 2 CPUs available"
    )
    print(f"work dir {workdir}; {pinning}", flush=True)

    credentials, seed_commands = seed.seed_accounts({**os.environ, **env})
    placeholders = {
        credentials.client_token: "$CLIENT_TOKEN",
        credentials.router_token: "$ROUTER_TOKEN",
        str(workdir): "$WORKDIR",
        sys.executable: ".venv/bin/python",
        seed.callmask_command(): ".venv/bin/callmask",
        str(load.SCRIPTS): "bench/wrk",
        py_spy: "py-spy",
    }
    pairs = workdir / "route-pairs.txt"
    slots = Slots(args.threads)
    workloads = {
        "route": Workload(
            "route",
            "/api/v2/Masking/route",
            "route.lua",
            lambda _: (str(pairs), credentials.router_token),
        ),
        "set": Workload(
            "set",
            "/api/v2/Masking/set",
            "set.lua",
            lambda own: (
                str(slots.take() if own else _BARE_SLOT),
                seed.CLIENT,
                credentials.client_token,
            ),
        ),
    }
    unknown = set(names) - set(workloads)
    if unknown:
        raise SystemExit(f"unknown workloads: {', '.join(sorted(unknown))}")

    commands: list[str] = [
        "export CALLMASK_DATABASE_URL=sqlite:///$WORKDIR/bench.db",
        *(" ".join(c) for c in seed_commands),
    ]
    servers: list[Server] = []
    comparisons = {name: report.Comparison(name) for name in names}
    profiles: dict[str, list[str]] = {}
    started = time.monotonic()
    try:
        port = free_port()
        bare = Server(
            "bare",
            [sys.executable, "-m", "bench.baseline", "--port", str(port)],
            port,
            workdir / "bare.log",
            cpus=server_cpu,
            cwd=ROOT,
        )
        servers.append(bare)
        port = free_port()
        own = Server(
            "callmask",
            [seed.callmask_command(), "serve", "--port", str(port)],
            port,
            workdir / "callmask.log",
            env=env,
            cpus=server_cpu,
            cwd=ROOT,
        )
        servers.append(own)
        for server in servers:
            server.wait_ready()
            commands.append(" ".join(server.argv) + " &")
            placeholders[str(server.port)] = f"${server.name.upper()}_PORT"
        if "route" in names:
            seed.seed_route_maskings(own.url, credentials.client_token, args.route_maskings, pairs)
            commands.append(
                f"# then {args.route_maskings} maskings set over the API (bench/seed.py),"
                " their (caller, mask) pairs written to $WORKDIR/route-pairs.txt"
            )

        def run(server: Server, workload: Workload, seconds: int) -> load.Result:
            job = load.Load(
                server.url + workload.path,
                workload.script,
                workload.args(server is own),
                duration_s=seconds,
                connections=args.connections,
                threads=args.threads,
                cpus=client_cpu,
            )
            if seconds == args.duration:
                commands.append(" ".join(job.command("wrk")))
            return load.run(job, wrk, wrk_log, server.pid)

        for name in names:
            for server in (bare, own):
                print(f"warm-up {name} on {server.name} ({args.warmup} s)", flush=True)
                run(server, workloads[name], args.warmup)
        for index in range(args.rounds):
            for name in names:
                # Alternate who goes first so a slow drift of the machine favours neither.
                order = (bare, own) if index % 2 == 0 else (own, bare)
                for server in order:
                    result = run(server, workloads[name], args.duration)
                    side = comparisons[name].bare if server is bare else comparisons[name].callmask
                    side.append(result)
                    print(
                        f"round {index + 1} {name:5} {server.name:8}"
                        f" {result.requests_per_s:9,.0f} req/s  p50 {result.p50_ms:6.2f} ms"
                        f"  p99 {result.p99_ms:6.2f} ms  errors {result.errors}  CPU server"
                        f" {result.server_cpu or 0:.2f} wrk {result.client_cpu or 0:.2f}",
                        flush=True,
                    )
        if args.profile:
            for name in names:
                profiles[name] = _profile(
                    own, workloads[name], run, py_spy, args, client_cpu, workdir, commands
                )
    finally:
        for server in reversed(servers):
            server.stop()
        if not args.keep:
            for suffix in ("", "-wal", "-shm"):
                (workdir / f"bench.db{suffix}").unlink(missing_ok=True)

    results = [comparisons[name] for name in names]
    print()
    print(
        f"{pinning}; {args.connections} connections, {args.threads} wrk thread(s),"
        f" {args.rounds} x {args.duration} s per app and workload;"
        f" took {time.monotonic() - started:.0f} s"
    )
    print("\n".join(report.table(results)))
    for comparison in results:
        for bad in comparison.callmask:
            if bad.errors:
                print(f"{comparison.workload}: first non-success answer: {bad.sample!r}")
                break
    for name, lines in profiles.items():
        print(f"\n## callmask under {name}\n" + "\n".join(lines))
    if not args.no_output:
        text = report.markdown(
            results,
            [*report.machine(wrk), f"- callmask commit: {_revision()}"],
            _public(commands, placeholders),
            _setup(args, pinning),
            profiles,
        )
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
        print(f"\nwrote {args.output}")
    print(f"logs in {workdir}")
    return 0 if all(c.errors == 0 for c in results) else 1


def _setup(args: argparse.Namespace, pinning: str) -> list[str]:
    """How the run was set up, for the report."""
    per_hub = -(-args.route_maskings // seed.HUBS)
    return [
        f"- {pinning}.",
        f"- {args.connections} connections, {args.threads} wrk thread(s), `--latency`;"
        f" {args.warmup} s warm-up per app and workload, then {args.rounds} rounds of"
        f" {args.duration} s each, the two apps back to back in alternating order.",
        "- bare: bench/baseline.py, Starlette on uvicorn (httptools, uvloop), 1 worker, no"
        " database; POST parses the body with orjson, GET reads two query parameters, both"
        " answer JSON shaped and sized like callmask's, with the same headers.",
        "- callmask: `callmask serve`, 1 worker, default settings (log level INFO), a fresh"
        " SQLite database (WAL) in a temp dir; a client and a router user and a pool of"
        f" {seed.POOL_SIZE} numbers made with the CLI.",
        f"- route: {args.route_maskings} maskings set over the API first (each customer"
        f" masked with one of {seed.HUBS} hub numbers, so they spread over {per_hub} pool"
        " numbers); wrk cycles GETs over both parties of each, with the router's bearer token;"
        ' success is an answer with `"action":"connect"`.',
        "- set: every request a new pair (m1 9198SSNNNNNN, m2 9197SSNNNNNN, unique per run,"
        " thread and request), userId and token in a JSON body, bare numeric m1/m2 as in"
        ' DeepCall\'s samples; success is `"status":"success"`.',
    ]


def _profile(
    own: Server,
    workload: Workload,
    run: Callable[[Server, Workload, int], load.Result],
    py_spy: str,
    args: argparse.Namespace,
    cpu: str | None,
    workdir: Path,
    commands: list[str],
) -> list[str]:
    """Sample callmask with py-spy (on wrk's core) while the workload runs; summarise."""
    raw = workdir / f"profile-{workload.name}.txt"
    seconds = max(args.duration - 1, 1)
    command = hotspots.record_command(py_spy, own.pid, seconds, raw, cpu)
    commands.append(
        " ".join(command).replace(str(own.pid), "$CALLMASK_PID")
        + f" &  # then the {workload.name} wrk command above"
    )
    print(f"profiling callmask under {workload.name} ({seconds} s)", flush=True)
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        time.sleep(0.5)
        result = run(own, workload, args.duration)
        _, errors = spy.communicate(timeout=args.duration + 30)
    finally:
        if spy.poll() is None:
            spy.terminate()
            spy.wait(timeout=10)
    if spy.returncode != 0 or not raw.exists():
        return [f"py-spy failed: {errors.decode('utf-8', 'replace').strip()[-500:]}"]
    kept = Path(tempfile.gettempdir()) / f"callmask-profile-{workload.name}.txt"
    shutil.copyfile(raw, kept)
    lines = [
        f"py-spy record, raw collapsed stacks in {kept} (feed to flamegraph.pl, inferno or"
        f" speedscope). Throughput while sampled: {result.requests_per_s:,.0f} req/s.",
        "",
    ]
    return lines + hotspots.summary(hotspots.load(raw))


if __name__ == "__main__":
    sys.exit(main())
