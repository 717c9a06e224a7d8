"""What the request middleware (callmask/http/telemetry.py) costs per request.

The bare app's GET route (bench/baseline.py) is called straight through ASGI, without a
server, with and without the middleware in front: the difference per request is the
middleware's own cost (request id, metrics, access log). Run several rounds and alternate
the order, since the machine is shared:

    .venv/bin/python -m bench.telemetry [--requests 20000] [--rounds 5]

The access log is measured three ways: off (level WARNING), written as JSON to /dev/null,
and as text to /dev/null, each through the production handler (request id and number filter).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import time
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route
from starlette.types import ASGIApp, Message

from bench.baseline import get
from callmask import logs
from callmask.http.metrics import Metrics
from callmask.http.telemetry import Telemetry

_SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": "/api/v2/Masking/route",
    "raw_path": b"/api/v2/Masking/route",
    "query_string": b"caller=%2B919876543210&mask=%2B918040000000",
    "root_path": "",
    "headers": [
        (b"host", b"127.0.0.1:8080"),
        (b"authorization", b"Bearer 0123456789abcdef"),
        (b"user-agent", b"wrk"),
    ],
    "client": ("127.0.0.1", 50000),
    "server": ("127.0.0.1", 8080),
}


def _app(observed: bool) -> ASGIApp:
    middleware = [Middleware(Telemetry, metrics=Metrics(10))] if observed else []
    return Starlette(routes=[Route("/api/v2/Masking/route", get)], middleware=middleware)


async def _per_request_us(app: ASGIApp, requests: int) -> float:
    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        return None

    for _ in range(200):
        await app(dict(_SCOPE), receive, send)
    # CPU time of this process: the machine is shared, and wall time counts others' work.
    started = time.process_time()
    for _ in range(requests):
        await app(dict(_SCOPE), receive, send)
    return (time.process_time() - started) / requests * 1e6


def _logging(mode: str) -> None:
    root = logging.getLogger()
    root.handlers.clear()
    if mode == "off":
        root.setLevel(logging.WARNING)
        return
    logs.configure("INFO", mode, open("/dev/null", "w"))  # noqa: SIM115


async def _main(requests: int, rounds: int) -> None:
    modes = ["off", "json", "text"]
    bare: list[float] = []
    with_middleware: dict[str, list[float]] = {mode: [] for mode in modes}
    for round_ in range(rounds):
        for mode in modes if round_ % 2 == 0 else reversed(modes):
            _logging(mode)
            plain = await _per_request_us(_app(False), requests)
            observed = await _per_request_us(_app(True), requests)
            bare.append(plain)
            with_middleware[mode].append(observed - plain)
    print(f"bare app through ASGI: {statistics.median(bare):.1f} us/request (median)")
    for mode in modes:
        cost = with_middleware[mode]
        print(
            f"middleware, access log {mode}: +{statistics.median(cost):.1f} us/request"
            f" (median of {len(cost)}; min {min(cost):.1f}, max {max(cost):.1f})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(_main(args.requests, args.rounds))


if __name__ == "__main__":
    main()
