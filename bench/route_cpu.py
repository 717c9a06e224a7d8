"""CPU time per GET route lookup through the whole ASGI app, in process (no sockets, no wrk).

`python -m bench.route_cpu` seeds a real SQLite file, starts the app's lifespan, and sends
the SIP proxy's GET /api/v2/Masking/route straight to the app, counting this process's CPU
time only: on a shared machine wall time and wrk's ratios also measure everyone else's work,
while this figure moves only when the code on the route path does. Prints the best and the
median of the rounds, in microseconds per lookup.

`--path` picks the lookup: connect (a party of a live masking, the default), reject (a caller
with no masking on the DID, whose account rejects such callers) or forward (the same caller,
whose account forwards them to a fallback number).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from typing import Any

from starlette.types import Message

from callmask.bootstrap import create_app, session
from callmask.config import Settings
from callmask.domain.numbers import E164
from callmask.service.accounts import Principal

CALLER, OTHER, DID = "+919876543210", "+919812345678", "+918040000000"
STRANGER, FALLBACK = "+919812345600", "+918012345678"
PATHS = ("connect", "reject", "forward")


async def _seed(settings: Settings, path: str) -> str:
    async with session(settings) as services:
        token = await services.accounts.add_user("sip", "router")
        await services.accounts.add_user("acme", "client")
        await services.pool.add("acme", [E164(DID)])
        await services.maskings.set_masking(Principal("acme", "acme", "client"), CALLER, OTHER)
        if path == "forward":
            await services.rules.change_rules("acme", out_of_session="forward:" + FALLBACK)
        return token


async def _measure(requests: int, rounds: int, path: str = "connect") -> list[float]:
    folder = tempfile.mkdtemp(prefix="callmask-route-cpu-")
    settings = Settings(
        database_url=f"sqlite:///{folder}/callmask.db",
        rate_limit_ip_per_second=0,
        rate_limit_account_per_second=0,
    )
    token = await _seed(settings, path)
    caller = CALLER if path == "connect" else STRANGER
    app = create_app(settings)
    state: dict[str, Any] = {}
    lifespan: asyncio.Queue[Message] = asyncio.Queue()
    started = asyncio.Event()

    async def lifespan_send(message: Message) -> None:
        started.set()

    await lifespan.put({"type": "lifespan.startup"})
    runner = asyncio.create_task(
        app(
            {"type": "lifespan", "asgi": {"version": "3.0"}, "state": state},
            lifespan.get,
            lifespan_send,
        )
    )
    await started.wait()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/api/v2/Masking/route",
        "raw_path": b"/api/v2/Masking/route",
        "query_string": f"caller=%2B{caller[1:]}&mask=%2B{DID[1:]}".encode(),
        "root_path": "",
        "headers": [(b"host", b"callmask"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }
    bodies: list[bytes] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            bodies.append(message["body"])

    for _ in range(500):  # warm the token cache and the statement cache
        await app({**scope, "state": dict(state)}, receive, send)
    if f'"action":"{path}"'.encode() not in bodies[-1]:
        raise RuntimeError(f"the lookup did not {path}: {bodies[-1]!r}")
    per_lookup = []
    for _ in range(rounds):
        began = time.process_time()
        for _ in range(requests):
            await app({**scope, "state": dict(state)}, receive, send)
        per_lookup.append((time.process_time() - began) / requests * 1e6)
    await lifespan.put({"type": "lifespan.shutdown"})
    await runner
    return per_lookup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=5000, help="lookups per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--path", choices=PATHS, default="connect", help="which lookup to time")
    args = parser.parse_args()
    logging.getLogger().setLevel(logging.WARNING)
    found = asyncio.run(_measure(args.requests, args.rounds, args.path))
    print(
        f"GET route ({args.path}), in process: best {min(found):.1f} us,"
        f" median {statistics.median(found):.1f} us per lookup"
        f" ({args.rounds} rounds of {args.requests})"
    )


if __name__ == "__main__":
    main()
