"""Calls through Kamailio and callmask on this box: the highest rate with zero failed calls.

`python -m bench.calls`: a fresh SQLite database seeded through the real CLI, `callmask
serve` (1 worker), Kamailio on the shipped configuration (src/callmask/sip/kamailio.cfg),
a sipp callee answering at the carrier-gateway address and a sipp caller placing calls
to pool numbers at fixed rates (bench/sipp/*.xml; each call: INVITE, 200, ACK, 0.5 s,
BYE). The rate steps up a ladder (100, 200, 400, ... calls/s, at most 3000) until a step
fails a call or the calls went through Kamailio well below the rate asked (the system, or
sipp, could not keep up); each step is bounded in time and in calls (rate x seconds).
`--full` climbs a finer ladder with longer steps.

The route lookup time is measured by Kamailio itself around its HTTP request and reported
in each call's start event (lookupUs), read here from the event queue in Redis, as are the
start times that give the rate the calls really went through at. During each step the
runner reads the CPU time of the processes it started (Kamailio and its children, callmask,
each sipp) and of the whole machine from /proc, so a step that saturates says what did.
Writes docs/calls.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import redis

from bench import seed
from bench.cpu import cpu_seconds, machine_cores, machine_ticks
from bench.rtpengine import rtpengine_running
from bench.servers import Server, descendants, free_port
from callmask.sip.kamailio import KamailioOptions, command, wait_ready, write

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "calls.md"
ANCHORED_DOCS = ROOT / "docs" / "calls-anchored.md"
SCENARIOS = Path(__file__).resolve().parent / "sipp"

LADDER = (100, 200, 400, 600, 800, 1000, 1200, 1500, 2000, 2500, 3000)
FULL_LADDER = (*range(100, 1001, 100), 1100, 1200, 1400, 1600, 1800, 2000, 2500, 3000)
CAP = 3000
SHORT_SECONDS, FULL_SECONDS = 10, 30
# A step whose calls went through Kamailio more than 10% slower than asked did not load the
# system at its rate: something upstream (sipp, or Kamailio taking INVITEs in) fell behind.
REACHED = 0.9
# A single-threaded process (callmask with 1 worker, each sipp) at 90% of a core, or the
# machine at 90% of all its cores, is saturated; Kamailio's 8 children only as part of the box.
SATURATED = 0.9
# How long a step may run past its calls: the last ones' 0.5 s, retransmissions, drain.
_STEP_SLACK_S = 40


@dataclass(frozen=True)
class Cpu:
    """Cores each part kept busy while a step's calls were placed (1.0 is one whole core)."""

    kamailio: float
    callmask: float
    caller: float
    callee: float
    machine: float | None  # everything on the box, from /proc/stat

    @property
    def ours(self) -> float:
        return self.kamailio + self.callmask + self.caller + self.callee

    @property
    def others(self) -> float | None:
        """The rest of the box: Redis, and whatever else runs on this shared machine."""
        return None if self.machine is None else max(0.0, self.machine - self.ours)


@dataclass(frozen=True)
class Step:
    rate: int
    seconds: int
    placed: int
    succeeded: int
    failed: int
    lookups: int
    lookup_p50_ms: float
    lookup_p99_ms: float
    achieved: float | None = None  # calls/s through Kamailio, from its start events
    cpu: Cpu | None = None

    @property
    def clean(self) -> bool:
        return self.failed == 0 and self.succeeded == self.placed

    @property
    def reached(self) -> bool:
        return self.achieved is not None and self.achieved >= REACHED * self.rate

    @property
    def passed(self) -> bool:
        return self.clean and self.reached


# -- deciding the steps (pure) ----------------------------------------------------------------


def next_rate(ladder: Sequence[int], cap: int, done: Sequence[Step]) -> int | None:
    """The rate of the next step, or None to stop: after a step that failed a call or fell
    short of its rate, at the end of the ladder, or above the cap."""
    if done and not done[-1].passed:
        return None
    last = done[-1].rate if done else 0
    higher = [rate for rate in ladder if rate > last]
    if not higher or min(higher) > cap:
        return None
    return min(higher)


def stop_reason(ladder: Sequence[int], cap: int, done: Sequence[Step]) -> str:
    """Why the stepping stopped, for the report."""
    if not done:
        return "nothing was run"
    last = done[-1]
    if not last.clean:
        return f"{last.failed} failed calls at {last.rate} calls/s"
    if not last.reached:
        achieved = "no" if last.achieved is None else f"{last.achieved:.0f}"
        return f"{last.rate} calls/s asked, {achieved} calls/s through Kamailio"
    if any(rate > last.rate for rate in ladder):
        return f"the cap ({cap} calls/s)"
    return "the top of the ladder"


def best_rate(done: Sequence[Step]) -> int:
    """The highest rate a step held with zero failed calls (0 if none did)."""
    return max((step.rate for step in done if step.passed), default=0)


def saturated(cpu: Cpu, cores: int) -> list[str]:
    """What ran out of CPU during a step."""
    full = [
        name
        for name, share in (
            ("callmask", cpu.callmask),
            ("sipp caller", cpu.caller),
            ("sipp callee", cpu.callee),
        )
        if share >= SATURATED
    ]
    if cpu.machine is not None and cpu.machine >= SATURATED * cores:
        full.append(f"the machine ({cores} cores)")
    return full


def achieved_rate(start_ms: Sequence[int]) -> float | None:
    """Calls per second through Kamailio: start events over the time they spread across."""
    if len(start_ms) < 2:
        return None
    span = (max(start_ms) - min(start_ms)) / 1000
    return (len(start_ms) - 1) / span if span > 0 else None


def _percentile(values: list[int], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] / 1000


def _sipp_counts(output: str) -> tuple[int, int]:
    def cumulative(label: str) -> int:
        found = re.findall(rf"{label}\s*\|\s*\d+\s*\|\s*(\d+)", output)
        return int(found[-1]) if found else 0

    return cumulative("Successful call"), cumulative("Failed call")


# -- running a step ---------------------------------------------------------------------------


def _udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class _Rig:
    work: Path
    sip_port: int
    gateway_port: int
    queue: str
    api: Server
    kamailio: subprocess.Popen[bytes]


@dataclass(frozen=True)
class _Sample:
    """CPU seconds so far of each part, and the machine's ticks, at one moment."""

    at: float
    kamailio: float
    callmask: float
    caller: float
    callee: float
    machine: tuple[int, int] | None

    @classmethod
    def take(cls, rig: _Rig, caller: int | None, callee: int) -> _Sample:
        proxy = [rig.kamailio.pid, *descendants(rig.kamailio.pid)]
        return cls(
            time.monotonic(),
            cpu_seconds(proxy) or 0.0,
            cpu_seconds(rig.api.pids()) or 0.0,
            (cpu_seconds([caller]) or 0.0) if caller is not None else 0.0,
            cpu_seconds([callee]) or 0.0,
            machine_ticks(),
        )

    def until(self, later: _Sample) -> Cpu:
        window = later.at - self.at
        return Cpu(
            kamailio=(later.kamailio - self.kamailio) / window,
            callmask=(later.callmask - self.callmask) / window,
            caller=(later.caller - self.caller) / window,
            callee=(later.callee - self.callee) / window,
            machine=machine_cores(self.machine, later.machine),
        )


def _sipp(scenario: str, port: int, calls: int, seconds: int, *extra: str) -> list[str]:
    return [
        "sipp",
        "-sf",
        str(SCENARIOS / scenario),
        "-i",
        "127.0.0.1",
        "-p",
        str(port),
        "-mp",
        str(_udp_port() & ~1),
        "-nostdin",
        "-m",
        str(calls),
        "-timeout",
        f"{seconds + 30}s",
        *extra,
    ]


def _step(rig: _Rig, rate: int, seconds: int) -> Step:
    calls = rate * seconds
    out = rig.work / f"caller-{rate}.out"
    callee = subprocess.Popen(
        _sipp("callee.xml", rig.gateway_port, calls, seconds),
        cwd=rig.work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    caller: subprocess.Popen[bytes] | None = None
    finished = False
    try:
        time.sleep(0.5)
        before = _Sample.take(rig, None, callee.pid)
        with out.open("wb") as log:
            caller = subprocess.Popen(
                _sipp(
                    "caller.xml",
                    _udp_port(),
                    calls,
                    seconds,
                    *("-inf", str(rig.work / "calls.csv"), "-r", str(rate), "-l", str(rate * 5)),
                    *("-timeout_error", f"127.0.0.1:{rig.sip_port}"),
                ),
                cwd=rig.work,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            # CPU is read over the calls' placing, not the tail of retransmissions and drain
            # after it, which would water a saturated step down.
            placed_by, deadline = before.at + seconds, before.at + seconds + _STEP_SLACK_S
            during = None
            while True:
                gone = caller.poll() is not None
                if during is None and (gone or time.monotonic() >= placed_by):
                    during = before.until(_Sample.take(rig, caller.pid, callee.pid))
                if gone:
                    finished = True
                    break
                if time.monotonic() > deadline:
                    break
                time.sleep(0.02)
    finally:
        if caller is not None:
            if caller.poll() is None:
                caller.kill()
            caller.wait()
        try:
            callee.wait(timeout=15 if finished else 0)  # its last BYEs, then its timewait
        except subprocess.TimeoutExpired:
            callee.kill()
            callee.wait()
    assert caller is not None
    succeeded, failed = _sipp_counts(out.read_text(errors="replace"))
    if not finished or caller.returncode not in (0, 1):
        failed = max(failed, calls - succeeded)
    lookups, starts = _start_events(rig.queue)
    return Step(
        rate,
        seconds,
        calls,
        succeeded,
        failed,
        len(lookups),
        _percentile(lookups, 0.5),
        _percentile(lookups, 0.99),
        achieved_rate(starts),
        during,
    )


def _start_events(queue: str) -> tuple[list[int], list[int]]:
    """The lookup times (us) and start times (ms) of the step's start events; empties the queue."""
    events = redis.Redis(host="127.0.0.1", port=6379)
    try:
        raw = events.lrange(queue, 0, -1)
        events.delete(queue)
    finally:
        events.close()
    starts = [event for event in map(json.loads, raw) if event.get("event") == "start"]
    lookups = [int(event["lookupUs"]) for event in starts if "lookupUs" in event]
    return lookups, [int(event["ts"]) for event in starts if "ts" in event]


def run(
    ladder: Sequence[int], cap: int, seconds: int, maskings: int, anchored: bool = False
) -> list[Step]:
    """The ladder, stepped; anchored: media through an rtpengine started for the run."""
    if shutil.which("sipp") is None or shutil.which("kamailio") is None:
        raise SystemExit(
            "needs sipp and kamailio: apt-get install -y sip-tester kamailio "
            "kamailio-utils-modules kamailio-extra-modules kamailio-redis-modules"
        )
    work = Path(tempfile.mkdtemp(prefix="callmask-calls-"))
    env = {
        **os.environ,
        "CALLMASK_DATABASE_URL": f"sqlite:///{work / 'calls.db'}",
        "CALLMASK_EVENTS_REDIS_URL": "",
        "CALLMASK_LOG_LEVEL": "WARNING",
    }
    credentials, _ = seed.seed_accounts(env)
    port = free_port()
    api = Server(
        "callmask",
        [seed.callmask_command(), "serve", "--port", str(port)],
        port,
        work / "callmask.log",
        env=env,
    )
    kamailio = None
    queue = f"callmask:bench:{secrets.token_hex(4)}"
    steps: list[Step] = []
    media = contextlib.ExitStack()
    try:
        # ~1000 calls up at 1500 calls/s (0.5 s talk, then the BYE), 4 ports each.
        engine = media.enter_context(rtpengine_running(work, ports=8000)) if anchored else None
        api.wait_ready()
        seed.seed_route_maskings(api.url, credentials.client_token, maskings, work / "pairs")
        rows = [line.split() for line in (work / "pairs").read_text().splitlines()]
        (work / "calls.csv").write_text(
            "RANDOM\n" + "".join(f"{caller};{mask};\n" for caller, mask in rows)
        )
        sip_port, gateway_port = _udp_port(), _udp_port()
        options = KamailioOptions(
            router_user=seed.ROUTER,
            router_token=credentials.router_token,
            listen=f"udp:127.0.0.1:{sip_port}",
            api_urls=(api.url,),
            gateways=(f"127.0.0.1:{gateway_port}",),
            events_queue=queue,
            log_stderr=True,
            control_socket=str(work / "kamailio.ctl"),
            rtpengine=(engine.control,) if engine is not None else (),
        )
        config = write(options, work / "kamailio.cfg")
        log = (work / "kamailio.log").open("wb")
        kamailio = subprocess.Popen(command(config), stdout=log, stderr=log, cwd=work)
        wait_ready(sip_port)
        rig = _Rig(work, sip_port, gateway_port, queue, api, kamailio)
        while (rate := next_rate(ladder, cap, steps)) is not None:
            step = _step(rig, rate, seconds)
            steps.append(step)
            print(_progress(step), flush=True)
    finally:
        if kamailio is not None:
            kamailio.terminate()
            try:
                kamailio.wait(timeout=15)
            except subprocess.TimeoutExpired:
                kamailio.kill()
                kamailio.wait()
        api.stop()
        media.close()
    if all(step.clean for step in steps):
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"kept {work} for its logs (sipp *_errors.log, caller-*.out, kamailio.log)")
    return steps


def _progress(step: Step) -> str:
    achieved = "-" if step.achieved is None else f"{step.achieved:.0f}"
    line = (
        f"{step.rate:>5} calls/s ({achieved} through Kamailio): {step.succeeded}/{step.placed}"
        f" ok, {step.failed} failed, lookup p50 {step.lookup_p50_ms:.2f} ms"
        f" p99 {step.lookup_p99_ms:.2f} ms"
    )
    if step.cpu is not None:
        line += f"; CPU {_share(step.cpu.kamailio)} kamailio, {_share(step.cpu.callmask)}"
        line += f" callmask, {_share(step.cpu.caller + step.cpu.callee)} sipp"
    return line


# -- the report -------------------------------------------------------------------------------


def _share(cores: float | None) -> str:
    return "-" if cores is None else f"{cores * 100:.0f}%"


def report(
    steps: list[Step],
    ladder: Sequence[int],
    cap: int,
    seconds: int,
    maskings: int,
    anchored: bool = False,
) -> str:
    cores = os.cpu_count() or 1
    lines = [
        "# Calls through Kamailio and callmask"
        + (", media anchored through rtpengine" if anchored else ""),
        "",
        "Written by `python -m bench.calls` (part of `make bench`; `--full` for the long run);"
        " rerun it rather than edit."
        + (
            " `--rtpengine`: every offer and answer through an rtpengine (userspace, started"
            " for the run; its CPU counts as other). sipp sends no RTP here, so this is the"
            " cost of anchoring's control messages, not of relaying media."
            if anchored
            else ""
        ),
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {cores} "
        "cores, everything on one box and unpinned: sipp caller and callee, Kamailio "
        "(8 children, 512 MB shared memory), callmask (1 worker, SQLite).",
        "",
        f"Each step places calls at a fixed rate for {seconds} s (INVITE, 200, ACK, 0.5 s,"
        f" BYE) from parties of {maskings} live maskings (a hub-and-customers shape) to their"
        " pool numbers; the route lookup time is what Kamailio measured around its HTTP"
        " request. The rate steps up until a step fails a call, or its calls go through"
        f" Kamailio more than {100 - REACHED * 100:.0f}% slower than asked (from the start"
        f" events' times), or past {cap} calls/s.",
        "",
        f"**Highest rate with zero failed calls: {best_rate(steps)} calls/s.**"
        f" Stopped by {stop_reason(ladder, cap, steps)}.",
        "",
        "| calls/s | through Kamailio | placed | succeeded | failed | lookups | lookup p50"
        " | lookup p99 |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in steps:
        achieved = "-" if s.achieved is None else f"{s.achieved:.0f}/s"
        lines.append(
            f"| {s.rate} | {achieved} | {s.placed} | {s.succeeded} | {s.failed} | {s.lookups} |"
            f" {s.lookup_p50_ms:.2f} ms | {s.lookup_p99_ms:.2f} ms |"
        )
    lines += [
        "",
        "## CPU per step",
        "",
        "Share of one core each part used while the step's calls were being placed (user +"
        f" system time from /proc over the step's first {seconds} s, not the drain after it);"
        " the machine has"
        f" {cores * 100}%. Other: the rest of the box's busy time (Redis, and whatever else runs"
        " on this shared machine). Saturated: a single-threaded process (callmask with 1"
        f" worker, each sipp) at {SATURATED * 100:.0f}% of a core or more, or the machine at"
        f" {SATURATED * 100:.0f}% of all its cores.",
        "",
        "| calls/s | kamailio | callmask | sipp caller | sipp callee | other | machine |"
        " saturated |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for s in steps:
        if s.cpu is None:
            continue
        c = s.cpu
        full = ", ".join(saturated(c, cores)) or "-"
        lines.append(
            f"| {s.rate} | {_share(c.kamailio)} | {_share(c.callmask)} | {_share(c.caller)} |"
            f" {_share(c.callee)} | {_share(c.others)} | {_share(c.machine)} | {full} |"
        )
    lines += [
        "",
        f"Ladder: {', '.join(map(str, ladder))} calls/s (cap {cap}), {seconds} s a step.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--full",
        action="store_true",
        help=f"the long run: {FULL_SECONDS} s steps up a finer ladder (short: {SHORT_SECONDS} s)",
    )
    parser.add_argument("--rates", help="the ladder, comma-separated (default: by mode)")
    parser.add_argument("--cap", type=int, default=CAP, help="never step above this rate")
    parser.add_argument("--seconds", type=int, help="per step (default: by mode)")
    parser.add_argument("--maskings", type=int, default=2000)
    parser.add_argument("--output", type=Path, help=f"default {DOCS}, or {ANCHORED_DOCS}")
    parser.add_argument(
        "--rtpengine", action="store_true", help="anchor media through an rtpengine"
    )
    args = parser.parse_args(argv)
    if args.rates:
        ladder: tuple[int, ...] = tuple(sorted(int(rate) for rate in args.rates.split(",")))
    else:
        ladder = FULL_LADDER if args.full else LADDER
    seconds = args.seconds or (FULL_SECONDS if args.full else SHORT_SECONDS)
    steps = run(ladder, args.cap, seconds, args.maskings, args.rtpengine)
    output = args.output or (ANCHORED_DOCS if args.rtpengine else DOCS)
    text = report(steps, ladder, args.cap, seconds, args.maskings, args.rtpengine)
    output.write_text(text, "utf-8")
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
