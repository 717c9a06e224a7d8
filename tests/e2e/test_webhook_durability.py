"""No webhook event is lost when callmask is killed between a change and its delivery.

callmask is served by the real CLI; a change commits its notice, the process is SIGKILLed
before the receiver has it, and a new process delivers it. Delivery is at least once: a
receiver that deduplicates by X-Callmask-Event-Id sees each change exactly once.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import pytest

from callmask.domain.numbers import E164
from tests.backends import BACKENDS, Database, fresh_database, seed_client_with_webhook
from tests.e2e.servers import Served, serve
from tests.receiver import Receiver

pytestmark = pytest.mark.anyio

POOL = [E164(f"+91804000000{n}") for n in range(4)]
FAST = {
    "CALLMASK_WEBHOOK_POLL_SECONDS": "0.05",
    "CALLMASK_WEBHOOK_RETRY_SECONDS": "0.2",
    "CALLMASK_WEBHOOK_TIMEOUT_SECONDS": "1",
}


def _changes(served: Served, token: str) -> set[tuple[str, str]]:
    """Six maskings set and two of them unset: the (type, maskingId) each must announce."""
    expected = set()
    with httpx.Client(base_url=served.url, timeout=10) as http:
        for n in range(6):
            body = {"userId": "acme", "token": token, "m1": f"+9198765400{n:02d}"}
            answer = http.post("/api/v2/Masking/set", json={**body, "m2": "+919812345678"}).json()
            assert answer["status"] == "success", answer
            expected.add(("masking.created", answer["maskingId"]))
            if n % 3 == 0:
                http.post("/api/v2/Masking/unset", json=body).json()
                expected.add(("masking.ended", answer["maskingId"]))
    return expected


async def _wait_for_attempts(database: Database, count: int) -> None:
    deadline = time.monotonic() + 10
    while (await database.rows("SELECT count(*) FROM webhook_deliveries"))[0][0] < count:
        assert time.monotonic() < deadline, "no delivery was attempted"
        time.sleep(0.02)


def _kill(served: Served) -> None:
    served.process.send_signal(signal.SIGKILL)
    served.process.wait(timeout=10)


def _announced(receiver: Receiver) -> set[tuple[str, str]]:
    return {(r.json["type"], r.json["data"]["maskingId"]) for r in receiver.unique().values()}


@pytest.mark.parametrize("kind", BACKENDS)
async def test_events_committed_while_the_receiver_was_down_survive_a_kill(
    tmp_path: Path, kind: str
) -> None:
    receiver = Receiver()
    async with fresh_database(kind, tmp_path) as database:
        token = await seed_client_with_webhook(database, POOL, receiver.url)
        with serve(database.url, **FAST) as served:
            expected = _changes(served, token)
            await _wait_for_attempts(database, 1)  # it tried: the receiver is down
            _kill(served)
        with receiver.running(), serve(database.url, **FAST):
            receiver.wait_for(lambda r: _announced(r) == expected, seconds=20)
        pending = await database.rows(
            "SELECT count(*) FROM webhook_events WHERE status <> 'delivered'"
        )
    assert len(expected) == 8 and len(receiver.unique()) == 8
    assert pending == [(0,)]


async def test_an_attempt_cut_short_by_a_kill_is_sent_again(tmp_path: Path) -> None:
    # The receiver takes each delivery and holds it: the process dies before any answer.
    receiver = Receiver(delay_s=30)
    async with fresh_database("sqlite", tmp_path) as database:
        token = await seed_client_with_webhook(database, POOL, receiver.url)
        with receiver.running():
            with serve(database.url, **FAST) as served:
                expected = _changes(served, token)
                receiver.wait_for(lambda r: len(r.got()) >= 1)
                _kill(served)
            held = {r.event_id for r in receiver.got()}
            receiver.delay_s = 0
            # The new process takes over each lease once it runs out (3 s), and sends again.
            # Wait for those resends too: the held notices count as announced already, and a
            # stop right after the last new one would cut the resends short.
            with serve(database.url, **FAST):
                receiver.wait_for(
                    lambda r: _announced(r) == expected and len(_resent(r, held)) >= 2 * len(held),
                    seconds=20,
                )
    assert len(receiver.unique()) == 8
    # At least once: held, then delivered again.
    assert len(_resent(receiver, held)) >= 2 * len(held)


def _resent(receiver: Receiver, held: set[str]) -> list[str]:
    return [r.event_id for r in receiver.got() if r.event_id in held]
