"""HTTP throughput of callmask against a bare Starlette app, measured in the same run.

`python -m bench.http` (or `make bench`) measures callmask on each backend and worker count
asked for (default: SQLite with 1 worker, PostgreSQL with 1 and with 2 workers; SQLite with
2 is skipped, as `callmask serve` refuses it) against the bare app (bench/baseline.py) with
as many workers, in the same rounds:

- route: GET /api/v2/Masking/route for live maskings created over the API before the run;
- set: POST /api/v2/Masking/set, every request a new pair of parties;
- unset: POST /api/v2/Masking/unset moving the end of one of those live maskings.

Each setup gets a fresh database: a SQLite file in a temp dir, or a PostgreSQL schema of
its own (bench/schema.py), dropped at the end. With 1 worker, wrk runs pinned to one core
and the servers to the other; with 2 workers the servers run unpinned. Every load is bounded
in time (`--duration`); every process started is ended by its PID. Prints a table and writes
docs/http.md (gathered into docs/benchmarks.md by bench.summary); `--profile` adds a py-spy
profile of each 1-worker callmask under each load.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from bench import hotspots, load, report, schema, seed
from bench.report import Comparison, Setup
from bench.servers import Server, free_port

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "http.md"
PG_URL = os.environ.get("CALLMASK_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ("sqlite", "postgresql")
# Slots 0..89 number the set runs against one database (see bench/wrk/set.lua); the bare app
# ignores the numbers, so its runs all use slot 90.
_BARE_SLOT = 90
_NO_LIMITS = {
    "CALLMASK_RATE_LIMIT_IP_PER_SECOND": "0",
    "CALLMASK_RATE_LIMIT_ACCOUNT_PER_SECOND": "0",
}
# callmask's default database pool (CALLMASK_DB_POOL_SIZE), for the report's explanation.
_POOL_SIZE = 10


@dataclass(frozen=True)
class Workload:
    name: str
    path: str
    script: str


WORKLOADS = {
    "route": Workload("route", "/api/v2/Masking/route", "route.lua"),
    "set": Workload("set", "/api/v2/Masking/set", "set.lua"),
    "unset": Workload("unset", "/api/v2/Masking/unset", "unset.lua"),
}


class Slots:
    """Hands out number slots so no two set runs against a database send the same pair."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self.next = 0

    def take(self) -> int:
        slot = self.next
        self.next += self.threads
        if self.next > _BARE_SLOT:
            raise RuntimeError("out of number slots: fewer rounds or threads")
        return slot


@dataclass
class Target:
    """A server under load: the bare app (setup None) or callmask on one setup."""

    server: Server
    setup: Setup | None
    # Where its commands go in the report.
    section: str
    credentials: seed.Credentials
    pairs: Path
    slots: Slots
    schema: str | None = None
    db_pids: list[int] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.section.removeprefix("callmask, ")

    def wrk_args(self, workload: str) -> tuple[str, ...]:
        if workload == "route":
            return (str(self.pairs), self.credentials.router_token)
        if workload == "unset":
            return (str(self.pairs), seed.CLIENT, self.credentials.client_token)
        slot = self.slots.take() if self.setup else _BARE_SLOT
        return (str(slot), seed.CLIENT, self.credentials.client_token)


def _list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.http", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--duration", type=int, default=8, help="seconds per measured load")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per app/load")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds (median is kept)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--route-maskings", type=int, default=2000)
    parser.add_argument(
        "--workloads", default="route,set,unset", help="comma-separated: route,set,unset"
    )
    parser.add_argument(
        "--backends", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql"
    )
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--pg-url", default=PG_URL, help="PostgreSQL to make schemas in")
    parser.add_argument("--profile", action="store_true", help="py-spy callmask under each load")
    parser.add_argument("--output", type=Path, default=DOCS, help="markdown report to write")
    parser.add_argument("--no-output", action="store_true", help="print only")
    parser.add_argument("--keep", action="store_true", help="keep SQLite files in the work dir")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.duration > 120 or args.rounds <= 0:
        parser.error("--duration must be 1..120 s and --rounds positive")
    args.workloads = _list(args.workloads)
    args.backends = _list(args.backends)
    if set(args.workloads) - set(WORKLOADS) or not args.workloads:
        parser.error(f"--workloads: choose from {','.join(WORKLOADS)}")
    if set(args.backends) - set(BACKENDS) or not args.backends:
        parser.error(f"--backends: choose from {','.join(BACKENDS)}")
    try:
        args.workers = sorted({int(w) for w in _list(args.workers)})
    except ValueError:
        parser.error("--workers: comma-separated positive integers")
    if not args.workers or args.workers[0] < 1:
        parser.error("--workers: comma-separated positive integers")
    return args


def _plan(backends: list[str], workers: list[int]) -> tuple[list[Setup], list[str]]:
    """The setups to measure, and a note for each one skipped."""
    setups, skipped = [], []
    for count in workers:
        for backend in backends:
            if backend == "sqlite" and count > 1:
                skipped.append(
                    f"SQLite with {count} workers is skipped: `callmask serve --workers {count}`"
                    " refuses SQLite on purpose (it wants one writing process)."
                )
                continue
            setups.append(Setup(backend, count))
    return setups, skipped


def _cpus() -> tuple[str | None, str | None]:
    """(client, server) cores: wrk on core 0, a 1-worker server on core 1, when there are two."""
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        return None, None
    return str(available[0]), str(available[1])


def _pinning(workers: int, client: str | None, server: str | None) -> str:
    if client is None:
        return "nothing pinned: fewer than 2 CPUs available"
    if workers == 1:
        return (
            f"wrk pinned to CPU {client} (`taskset -c {client}`), each 1-worker server to"
            f" CPU {server} (`taskset -c {server}`)"
        )
    return (
        f"wrk pinned to CPU {client} (`taskset -c {client}`), the {workers}-worker servers"
        " unpinned: a 2-core box cannot give them cores of their own, so they share CPU"
        f" {client} with wrk"
    )


def _public(lines: list[str], placeholders: dict[str, str]) -> list[str]:
    """The commands as a reader can rerun them: no tokens, temp paths or ports; once each."""
    shown: list[str] = []
    for line in lines:
        for value, name in placeholders.items():
            line = line.replace(value, name)
        line = re.sub(r"set\.lua (\S+) -- \d+ ", r"set.lua \1 -- $SLOT ", line)
        if line not in shown:
            shown.append(line)
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


def _terminated(signum: int, frame: FrameType | None) -> None:
    # SIGTERM unwinds like an exception, so the cleanup in main's finally still runs.
    raise SystemExit(128 + signum)


class Run:
    """One benchmark run: its servers, schemas and figures, and everything to clean up."""

    def __init__(self, args: argparse.Namespace, wrk: str, py_spy: str) -> None:
        self.args = args
        self.wrk = wrk
        self.py_spy = py_spy
        self.client_cpu, self.server_cpu = _cpus()
        self.workdir = Path(tempfile.mkdtemp(prefix="callmask-bench-"))
        self.wrk_log = self.workdir / "wrk.log"
        self.servers: list[Server] = []
        self.schemas: list[str] = []
        self.comparisons: dict[tuple[str, Setup], Comparison] = {}
        self.profiles: dict[tuple[str, Setup], hotspots.Profile] = {}
        self.profile_notes: dict[tuple[str, Setup], list[str]] = {}
        self.sections: dict[str, list[str]] = {}
        self.placeholders: dict[str, str] = {
            str(self.workdir): "$WORKDIR",
            sys.executable: ".venv/bin/python",
            seed.callmask_command(): ".venv/bin/callmask",
            str(load.SCRIPTS): "bench/wrk",
            py_spy: "py-spy",
        }
        self.killed: list[int] = []

    # -- starting -------------------------------------------------------------------------

    def _start(
        self, name: str, argv: list[str], workers: int, env: dict[str, str], section: str
    ) -> Server:
        port = free_port()
        argv = [*argv, "--port", str(port), *(["--workers", str(workers)] if workers > 1 else [])]
        server = Server(
            name,
            argv,
            port,
            self.workdir / f"{name}.log",
            env=env,
            cpus=self.server_cpu if workers == 1 else None,
            cwd=ROOT,
        )
        self.servers.append(server)
        # A supervisor and its workers: wait for all of them, so CPU is counted for each.
        server.wait_ready(workers=0 if workers == 1 else workers)
        self.placeholders[str(port)] = "$CALLMASK_PORT" if "callmask" in name else "$BARE_PORT"
        self.sections[section].append(" ".join(server.argv) + " &")
        return server

    def start_callmask(self, setup: Setup) -> Target:
        tag = f"{setup.backend}-{setup.workers}w"
        section = f"callmask, {setup.describe()}"
        lines = self.sections.setdefault(section, [])
        name = None
        if setup.backend == "sqlite":
            url = f"sqlite:///{self.workdir / f'{tag}.db'}"
            lines.append(f"export CALLMASK_DATABASE_URL=sqlite:///$WORKDIR/{tag}.db")
        else:
            name = schema.new_name(f"{setup.workers}w")
            # Remembered before it exists, so a failure in between still drops it.
            self.schemas.append(name)
            schema.create(self.args.pg_url, name)
            url = schema.url(self.args.pg_url, name)
            self.placeholders[name] = "$SCHEMA"
            lines += [
                f'psql {self.args.pg_url} -c "CREATE SCHEMA {name}"',
                f'export CALLMASK_DATABASE_URL="{url}"',
            ]
        # The rate limits are policy, set per deployment: one account sending from one address
        # is exactly what they would throttle, and the runs measure the ceiling under them.
        env = {"CALLMASK_DATABASE_URL": url, **_NO_LIMITS}
        lines += [f"export {name}={value}" for name, value in _NO_LIMITS.items()]
        credentials, seed_commands = seed.seed_accounts({**os.environ, **env})
        self.placeholders[credentials.client_token] = "$CLIENT_TOKEN"
        self.placeholders[credentials.router_token] = "$ROUTER_TOKEN"
        lines += [" ".join(c) for c in seed_commands]
        command = [seed.callmask_command(), "serve"]
        server = self._start(f"callmask-{tag}", command, setup.workers, env, section)
        pairs = self.workdir / f"route-pairs-{tag}.txt"
        if {"route", "unset"} & set(self.args.workloads):
            print(f"seeding {self.args.route_maskings} maskings on {setup.describe()}", flush=True)
            seed.seed_route_maskings(
                server.url, credentials.client_token, self.args.route_maskings, pairs
            )
            lines.append(
                f"# then {self.args.route_maskings} maskings set over the API (bench/seed.py),"
                f" their (caller, mask) pairs written to $WORKDIR/route-pairs-{tag}.txt"
            )
        if name is not None:
            schema.analyze(self.args.pg_url, name)
            lines.append("# then ANALYZE each table of $SCHEMA (bench/schema.py)")
        return Target(server, setup, section, credentials, pairs, Slots(self.args.threads), name)

    def start_bare(self, workers: int, model: Target) -> Target:
        section = f"bare app, {workers} worker{'s' if workers > 1 else ''}"
        self.sections.setdefault(section, [])
        command = [sys.executable, "-m", "bench.baseline"]
        server = self._start(f"bare-{workers}w", command, workers, {}, section)
        # The bare app ignores tokens and numbers; it reuses a callmask target's pairs file.
        return Target(server, None, section, model.credentials, model.pairs, model.slots)

    # -- measuring ------------------------------------------------------------------------

    def measure(self, target: Target, workload: str, seconds: int) -> load.Result:
        job = load.Load(
            target.server.url + WORKLOADS[workload].path,
            WORKLOADS[workload].script,
            target.wrk_args(workload),
            duration_s=seconds,
            connections=self.args.connections,
            threads=self.args.threads,
            cpus=self.client_cpu,
        )
        if seconds == self.args.duration:
            self.sections[target.section].append(" ".join(job.command("wrk")))
        if target.schema is None:
            return load.run(job, self.wrk, self.wrk_log, target.server.pids())
        # Connections open on demand and stay in the pool: look again before each load.
        target.db_pids = schema.backend_pids(self.args.pg_url, target.schema)
        with schema.Activity(self.args.pg_url, target.schema) as activity:
            result = load.run(job, self.wrk, self.wrk_log, target.server.pids(), target.db_pids)
        result.db_states = activity.shares
        if activity.error:
            print(f"sampling pg_stat_activity failed: {activity.error}", flush=True)
        return result

    def group(self, workers: int, setups: list[Setup]) -> None:
        """Start the bare app and each callmask setup with `workers`, measure, stop them."""
        started = len(self.servers)
        own = [self.start_callmask(setup) for setup in setups]
        bare = self.start_bare(workers, own[0])
        everyone = [bare, *own]
        for name in self.args.workloads:
            for target in everyone:
                print(f"warm-up {name} on {target.label} ({self.args.warmup} s)", flush=True)
                self.measure(target, name, self.args.warmup)
        for index in range(self.args.rounds):
            for name in self.args.workloads:
                # Alternate the order so a slow drift of the machine favours no one.
                order = everyone if index % 2 == 0 else everyone[::-1]
                results = {}
                for target in order:
                    result = self.measure(target, name, self.args.duration)
                    results[target.label] = result
                    print(
                        f"round {index + 1} {name:5} {target.label:24}"
                        f" {result.requests_per_s:9,.0f} req/s  p50 {result.p50_ms:6.2f} ms"
                        f"  p99 {result.p99_ms:6.2f} ms  errors {result.errors}  CPU server"
                        f" {result.server_cpu or 0:.2f} db {result.db_cpu or 0:.2f}"
                        f" wrk {result.client_cpu or 0:.2f}",
                        flush=True,
                    )
                for target in own:
                    assert target.setup is not None
                    key = (name, target.setup)
                    comparison = self.comparisons.setdefault(key, Comparison(name, target.setup))
                    comparison.bare.append(results[bare.label])
                    comparison.callmask.append(results[target.label])
        if self.args.profile:
            for target in own:
                for name in self.args.workloads:
                    self.profile(target, name)
        for server in self.servers[started:]:
            self.killed += server.stop()

    def profile(self, target: Target, workload: str) -> None:
        """Sample callmask with py-spy (on wrk's core) while the workload runs; summarise."""
        assert target.setup is not None
        key = (workload, target.setup)
        if target.setup.workers > 1:
            print(f"no profile of {target.label}: py-spy samples one process", flush=True)
            return
        raw = self.workdir / f"profile-{workload}-{target.setup.backend}.txt"
        seconds = max(self.args.duration - 1, 1)
        pid = target.server.pid
        command = hotspots.record_command(self.py_spy, pid, seconds, raw, self.client_cpu)
        self.sections[target.section].append(
            " ".join(command).replace(str(pid), "$CALLMASK_PID")
            + f" &  # then the {workload} wrk command above"
        )
        print(f"profiling {target.label} under {workload} ({seconds} s)", flush=True)
        spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            time.sleep(0.5)
            result = self.measure(target, workload, self.args.duration)
            _, errors = spy.communicate(timeout=self.args.duration + 30)
        finally:
            if spy.poll() is None:
                spy.terminate()
                spy.wait(timeout=10)
        if spy.returncode != 0 or not raw.exists():
            failure = errors.decode("utf-8", "replace").strip()[-500:]
            self.profile_notes[key] = [f"py-spy failed: {failure}", ""]
            return
        kept = Path(tempfile.gettempdir()) / f"callmask-{raw.name}"
        kept.write_bytes(raw.read_bytes())
        self.profiles[key] = hotspots.load(raw)
        self.profile_notes[key] = [
            f"py-spy record, raw collapsed stacks in {kept} (feed to flamegraph.pl, inferno or"
            f" speedscope). Throughput while sampled: {result.requests_per_s:,.0f} req/s.",
            "",
        ]

    # -- ending ---------------------------------------------------------------------------

    def close(self) -> list[str]:
        """Stop every server still running and drop every schema; say what went wrong."""
        problems = []
        for server in reversed(self.servers):
            try:
                self.killed += server.stop()
            except Exception as error:
                problems.append(f"stopping {server.name} (PID {server.pid}): {error}")
        for name in self.schemas:
            try:
                schema.drop(self.args.pg_url, name)
            except Exception as error:
                problems.append(f"dropping schema {name}: {error}")
        if not self.args.keep:
            for path in self.workdir.glob("*.db*"):
                path.unlink(missing_ok=True)
        if self.killed:
            problems.append(f"had to SIGKILL PIDs {self.killed}")
        return problems

    def commands(self) -> list[str]:
        lines: list[str] = []
        for section, commands in self.sections.items():
            lines += [f"# {section}", *_public(commands, self.placeholders)]
            if any("CREATE SCHEMA" in c for c in commands):
                lines.append(f'psql {self.args.pg_url} -c "DROP SCHEMA $SCHEMA CASCADE"')
            lines.append("")
        return lines[:-1]


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    setups, skipped = _plan(args.backends, args.workers)
    if not setups:
        raise SystemExit("nothing to measure: " + " ".join(skipped))
    signal.signal(signal.SIGTERM, _terminated)
    wrk = load.ensure_wrk()
    py_spy = hotspots.ensure_py_spy() if args.profile else "py-spy"
    run = Run(args, wrk, py_spy)
    counts = sorted({setup.workers for setup in setups})
    pinning = {w: _pinning(w, run.client_cpu, run.server_cpu) for w in counts}
    print(f"work dir {run.workdir}", flush=True)
    for note in skipped:
        print(note, flush=True)
    for workers, text in pinning.items():
        print(f"{workers} worker{'s' if workers > 1 else ''}: {text}", flush=True)
    started = time.monotonic()
    try:
        for workers in counts:
            run.group(workers, [setup for setup in setups if setup.workers == workers])
    finally:
        problems = run.close()
        for problem in problems:
            print(f"cleanup: {problem}", file=sys.stderr, flush=True)
    took = time.monotonic() - started

    results = [
        run.comparisons[(name, setup)]
        for name in args.workloads
        for setup in setups
        if (name, setup) in run.comparisons
    ]
    gap = report.postgres_gap(results, run.profiles, _POOL_SIZE)
    print()
    print(
        f"{args.connections} connections, {args.threads} wrk thread(s), {args.rounds} x"
        f" {args.duration} s per app and workload; took {took:.0f} s"
    )
    print("\n".join(report.table(results)))
    for comparison in results:
        for bad in comparison.callmask:
            if bad.errors:
                print(f"{comparison.workload}: first non-success answer: {bad.sample!r}")
                break
    if gap:
        print("\n" + "\n".join(gap))
    if not args.no_output:
        machine = [*report.machine(wrk), f"- callmask commit: {_revision()}"]
        if "postgresql" in args.backends:
            machine.append(f"- PostgreSQL: {schema.server_version(args.pg_url)}, same machine")
        text = report.markdown(
            results,
            machine,
            run.commands(),
            _setup(args, pinning, skipped, took),
            run.profiles,
            run.profile_notes,
            gap,
        )
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
        print(f"\nwrote {args.output}")
    print(f"logs in {run.workdir}")
    return 0 if all(c.errors == 0 for c in results) and not problems else 1


def _setup(
    args: argparse.Namespace, pinning: dict[int, str], skipped: list[str], took: float
) -> list[str]:
    """How the run was set up, for the report."""
    per_hub = -(-args.route_maskings // seed.HUBS)
    lines = [
        f"- {workers} worker{'s' if workers > 1 else ''}: {text}."
        for workers, text in pinning.items()
    ]
    if "postgresql" in args.backends:
        lines += [
            "- PostgreSQL runs on the same 2 cores, unpinned (it is not the runner's to pin):"
            " its backends take CPU from whichever core is free, wrk's or callmask's.",
            "- After seeding, the runner ANALYZEs the schema's tables, as autovacuum would"
            " within its first minute: without statistics, PostgreSQL plans callmask's"
            " first-free lookup as a scan and sort of the whole pool instead of a walk in"
            " number order, and autovacuum would change the plan partway through the run.",
        ]
    lines += [f"- {note}" for note in skipped]
    lines += [
        f"- {args.connections} connections, {args.threads} wrk thread(s), `--latency`;"
        f" {args.warmup} s warm-up per app and workload, then {args.rounds} rounds of"
        f" {args.duration} s each; in each round, the bare app and callmask on each setup"
        " with the same worker count back to back, in alternating order. The whole run took"
        f" {took / 60:.1f} min. The full-length run (about 15 min): `.venv/bin/python -m"
        " bench.http --rounds 5 --duration 15 --warmup 3 --profile`.",
        "- bare: bench/baseline.py, Starlette on uvicorn (httptools, uvloop), no database,"
        " 1 worker, or `uvicorn --workers 2` for the 2-worker setups; POST parses the body"
        " with orjson, GET reads two query parameters, both answer JSON shaped and sized like"
        " callmask's, with the same headers.",
        "- callmask: `callmask serve [--workers 2]`, default settings (log level INFO, JSON"
        " logs, an access line per request but route's at DEBUG) except the rate limits, off"
        " (`CALLMASK_RATE_LIMIT_IP_PER_SECOND=0`, `CALLMASK_RATE_LIMIT_ACCOUNT_PER_SECOND=0`):"
        " one account at the ceiling from one address is what they exist to stop; a fresh"
        " database per setup: a SQLite file (WAL) in a temp dir, or a PostgreSQL schema of its"
        " own (`CREATE SCHEMA bench_...`, reached with `?search_path=`), dropped at the end;"
        f" a client and a router user and a pool of {seed.POOL_SIZE} numbers made with the CLI.",
        f"- route: {args.route_maskings} maskings set over the API first (each customer"
        f" masked with one of {seed.HUBS} hub numbers, so they spread over {per_hub} pool"
        " numbers); wrk cycles GETs over both parties of each, with the router's bearer token;"
        ' success is an answer with `"action":"connect"`.',
        "- set: every request a new pair (m1 9198SSNNNNNN, m2 9197SSNNNNNN, unique per run,"
        " thread and request), userId and token in a JSON body, bare numeric m1/m2 as in"
        ' DeepCall\'s samples; success is `"status":"success"`.',
        "- unset: wrk cycles over the customers of the route maskings, each request moving the"
        " end of one live masking (m1 = the customer, mask = its number, expiry_duration 60)"
        " so none runs out; ending one would run the same statements plus deleting its two"
        ' claims; success is `"status":"success"`.',
    ]
    return lines


if __name__ == "__main__":
    sys.exit(main())
