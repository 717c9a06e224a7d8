"""Calls through Kamailio and callmask on this box: the highest rate with zero failed calls.

`python -m bench.calls`: a fresh SQLite database seeded through the real CLI, `callmask
serve` (1 worker), Kamailio on the shipped configuration (src/callmask/sip/kamailio.cfg),
a sipp callee answering at the carrier-gateway address and a sipp caller placing calls
to pool numbers at fixed rates (bench/sipp/*.xml; each call: INVITE, 200, ACK, 0.5 s,
BYE). Each step is bounded in time; stepping stops at the first rate with a failed call.

The route lookup time is measured by Kamailio itself around its HTTP request and reported
in each call's start event (lookupUs), read here from the event queue in Redis. Writes
docs/calls.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from bench import seed
from bench.servers import Server, free_port
from callmask.sip.kamailio import KamailioOptions, command, wait_ready, write

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "calls.md"
SCENARIOS = Path(__file__).resolve().parent / "sipp"


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


def _udp_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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


def _step(
    work: Path, sip_port: int, gateway_port: int, queue: str, rate: int, seconds: int
) -> Step:
    calls = rate * seconds
    bound = ["timeout", str(seconds + 40)]
    callee = subprocess.Popen(
        [
            *bound,
            "sipp",
            "-sf",
            str(SCENARIOS / "callee.xml"),
            "-i",
            "127.0.0.1",
            "-p",
            str(gateway_port),
            "-mp",
            str(_udp_port() & ~1),
            "-nostdin",
            "-timeout",
            f"{seconds + 30}s",
            "-m",
            str(calls),
        ],
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        time.sleep(0.5)
        caller = subprocess.run(
            [
                *bound,
                "sipp",
                "-sf",
                str(SCENARIOS / "caller.xml"),
                "-inf",
                str(work / "calls.csv"),
                "-i",
                "127.0.0.1",
                "-p",
                str(_udp_port()),
                "-mp",
                str(_udp_port() & ~1),
                "-nostdin",
                "-r",
                str(rate),
                "-m",
                str(calls),
                "-l",
                str(rate * 5),
                "-timeout",
                f"{seconds + 30}s",
                "-timeout_error",
                f"127.0.0.1:{sip_port}",
            ],
            cwd=work,
            capture_output=True,
            text=True,
        )
    finally:
        try:
            callee.wait(timeout=15)
        except subprocess.TimeoutExpired:
            # sipp runs under timeout(1) in a session of its own: end both, not the wrapper.
            os.killpg(callee.pid, signal.SIGKILL)
            callee.wait()
    (work / f"caller-{rate}.out").write_text(caller.stdout + caller.stderr)
    succeeded, failed = _sipp_counts(caller.stdout)
    if caller.returncode not in (0, 1):
        failed = max(failed, calls - succeeded)
    events = redis.Redis(host="127.0.0.1", port=6379)
    try:
        raw = events.lrange(queue, 0, -1)
        events.delete(queue)
    finally:
        events.close()
    lookups = [
        int(event["lookupUs"])
        for event in (json.loads(item) for item in raw)
        if event.get("event") == "start" and "lookupUs" in event
    ]
    return Step(
        rate,
        seconds,
        calls,
        succeeded,
        failed,
        len(lookups),
        _percentile(lookups, 0.5),
        _percentile(lookups, 0.99),
    )


def run(rates: list[int], seconds: int, maskings: int) -> list[Step]:
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
    try:
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
            callmask_url=api.url,
            gateway=f"127.0.0.1:{gateway_port}",
            events_queue=queue,
            log_stderr=True,
        )
        config = write(options, work / "kamailio.cfg")
        log = (work / "kamailio.log").open("wb")
        kamailio = subprocess.Popen(command(config), stdout=log, stderr=log, cwd=work)
        wait_ready(sip_port)
        for rate in rates:
            step = _step(work, sip_port, gateway_port, queue, rate, seconds)
            steps.append(step)
            print(
                f"{rate:>5} calls/s: {step.succeeded}/{step.placed} ok, {step.failed} failed,"
                f" lookup p50 {step.lookup_p50_ms:.2f} ms p99 {step.lookup_p99_ms:.2f} ms",
                flush=True,
            )
            if step.failed or step.succeeded < step.placed:
                break
    finally:
        if kamailio is not None:
            kamailio.terminate()
            try:
                kamailio.wait(timeout=15)
            except subprocess.TimeoutExpired:
                kamailio.kill()
                kamailio.wait()
        api.stop()
    if all(not step.failed for step in steps):
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"kept {work} for its logs (sipp *_errors.log, kamailio.log)")
    return steps


def report(steps: list[Step], rates: list[int], seconds: int, maskings: int) -> str:
    clean = [s for s in steps if not s.failed and s.succeeded == s.placed]
    best = max((s.rate for s in clean), default=0)
    lines = [
        "# Calls through Kamailio and callmask",
        "",
        "Written by `python -m bench.calls` (part of `make bench`); rerun it rather than edit.",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} "
        "cores, everything on one box and unpinned: sipp caller and callee, Kamailio "
        "(8 children, 512 MB shared memory), callmask (1 worker, SQLite).",
        "",
        f"Each step places calls at a fixed rate for {seconds} s (INVITE, 200, ACK, 0.5 s,"
        f" BYE) from parties of {maskings} live maskings (a hub-and-customers shape) to their"
        " pool numbers; the route lookup time is what Kamailio measured around its HTTP"
        " request.",
        "",
        f"**Highest rate with zero failed calls: {best} calls/s.**",
        "",
        "| calls/s | placed | succeeded | failed | lookups | lookup p50 | lookup p99 |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {s.rate} | {s.placed} | {s.succeeded} | {s.failed} | {s.lookups} |"
        f" {s.lookup_p50_ms:.2f} ms | {s.lookup_p99_ms:.2f} ms |"
        for s in steps
    ]
    lines += ["", f"Rates tried: {', '.join(map(str, rates))} (stopping at the first failure)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rates", default="50,100,200,300,400,500")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--maskings", type=int, default=2000)
    args = parser.parse_args()
    rates = [int(rate) for rate in args.rates.split(",")]
    steps = run(rates, args.seconds, args.maskings)
    DOCS.write_text(report(steps, rates, args.seconds, args.maskings), encoding="utf-8")
    print(f"wrote {DOCS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
