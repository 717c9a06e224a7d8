"""`callmask serve` stops within 5 s of SIGTERM, however busy it is.

Busy means: a client that sent its headers and half its body and went quiet, a webhook
delivery in flight to a receiver that never answers, and the call-event consumer waiting on
Redis. Each of those waited its own deadline in turn before (~13 s).
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from callmask.domain.numbers import E164
from tests.backends import fresh_database, seed_client_with_webhook
from tests.e2e.servers import Served, serve

pytestmark = pytest.mark.anyio

REDIS_URL = os.environ.get("CALLMASK_TEST_REDIS", "redis://127.0.0.1:6379")
POOL = [E164("+918040000001")]
STOP_WITHIN_S = 5.0


@contextmanager
def black_hole() -> Iterator[socket.socket]:
    """A listening socket that accepts a connection and never answers."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(10)
        yield listener


def _stalled_body(served: Served) -> socket.socket:
    """A set request whose body stops halfway, its headers answered by nobody yet."""
    port = int(served.url.rsplit(":", 1)[1])
    client = socket.create_connection(("127.0.0.1", port), timeout=10)
    client.sendall(
        b"POST /api/v2/Masking/set HTTP/1.1\r\nHost: callmask\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
        b'{"userId": "acme", '
    )
    return client


@pytest.mark.parametrize(("kind", "workers"), [("sqlite", 1), ("postgresql", 2)])
async def test_sigterm_with_a_stalled_body_and_busy_workers_stops_within_5_s(
    tmp_path: Path, kind: str, workers: int
) -> None:
    async with fresh_database(kind, tmp_path) as database:
        with black_hole() as receiver:
            host, port = receiver.getsockname()[:2]
            token = await seed_client_with_webhook(database, POOL, f"http://{host}:{port}/hook")
            env = {
                "CALLMASK_EVENTS_REDIS_URL": REDIS_URL,
                "CALLMASK_EVENTS_QUEUE": f"callmask:test:shutdown:{os.getpid()}",
                "CALLMASK_WEBHOOK_POLL_SECONDS": "0.05",
                "CALLMASK_WEBHOOK_TIMEOUT_SECONDS": "30",
            }
            with serve(database.url, workers=workers, **env) as served:
                answer = httpx.post(
                    served.url + "/api/v2/Masking/set",
                    json={"userId": "acme", "token": token, "m1": "+919876543210",
                          "m2": "+919812345678"},
                    timeout=10,
                ).json()  # fmt: skip
                assert answer["status"] == "success", answer
                delivery, _ = receiver.accept()  # the notice is on its way, and stays there
                stalled = _stalled_body(served)
                time.sleep(0.3)
                began = time.monotonic()
                served.process.send_signal(signal.SIGTERM)
                served.process.wait(timeout=30)
                took = time.monotonic() - began
                stalled.close()
                delivery.close()
    assert took < STOP_WITHIN_S, f"took {took:.1f}s to stop"
