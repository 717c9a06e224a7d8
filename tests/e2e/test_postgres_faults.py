"""Faults under load on PostgreSQL: a worker killed mid-request, and the database going away.

Both tests drive the real CLI-served app with concurrent clients. The outage test stops and
starts this machine's PostgreSQL cluster (always started again, even when the test fails).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest

from callmask.bootstrap import build_services
from callmask.config import Settings
from callmask.domain.numbers import E164
from tests.backends import Database, fresh_store, open_test_store
from tests.e2e.servers import serve
from tests.support import HALF_WRITTEN, VIOLATIONS

pytestmark = pytest.mark.anyio

POOL = [E164(f"+91804000000{i}") for i in range(8)]


async def _seed(database: Database) -> str:
    store = open_test_store(database)
    try:
        service = build_services(store, Settings())
        token = await service.accounts.add_user("acme", "client")
        await store.add_pool_numbers("acme", POOL, service.now_ms())
        return token
    finally:
        await store.close()


async def _hammer(
    url: str,
    token: str,
    seed: int,
    until: float,
    outcomes: list[tuple[float, float, dict[str, object] | None]],
) -> None:
    """Set and unset random pairs until the deadline; record (sent, took, answer or None)."""
    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=url, timeout=15) as http:
        while time.monotonic() < until:
            m1, m2 = (f"+9198000{n:05d}" for n in rng.sample(range(40), 2))
            kind = "set" if rng.random() < 0.6 else "unset"
            body = {"m1": m1, "m2": m2, "expiry_duration": 60 if kind == "set" else -1}
            sent = time.monotonic()
            try:
                answer = await http.post(
                    f"/api/v2/Masking/{kind}", json={"userId": "acme", "token": token, **body}
                )
                outcomes.append((sent, time.monotonic() - sent, answer.json()))
            except httpx.TransportError:
                # The worker died with this request: its outcome is unknown to the client.
                outcomes.append((sent, time.monotonic() - sent, None))
                await asyncio.sleep(0.01)


async def _check_table(database: Database, answered: list[dict[str, object]]) -> None:
    now = int(time.time() * 1000)
    assert await database.rows(VIOLATIONS, now, now) == []
    assert await database.rows(HALF_WRITTEN) == []
    stored = {
        row[0]: row[1:]
        for row in await database.rows("SELECT masking_id, mask, m1, m2 FROM maskings")
    }
    for answer in answered:
        if answer.get("status") == "success" and "maskingId" in answer:
            key = str(answer["maskingId"])
            assert stored[key] == (answer["mask"], answer["m1"], answer["m2"])


async def test_a_worker_killed_mid_request_leaves_nothing_half_written(tmp_path: Path) -> None:
    async with fresh_store("postgresql", tmp_path) as (store, database):
        await store.close()
        token = await _seed(database)
        outcomes: list[tuple[float, float, dict[str, object] | None]] = []
        with serve(database.url, workers=2) as served:
            before = served.worker_pids()
            assert len(before) == 2
            until = time.monotonic() + 8
            load = asyncio.gather(
                *(_hammer(served.url, token, seed, until, outcomes) for seed in range(32))
            )
            await asyncio.sleep(2)
            os.kill(before[0], signal.SIGKILL)
            await asyncio.wait_for(load, timeout=60)
            after = served.worker_pids()
            # uvicorn's supervisor replaces the dead worker; the service carries on.
            assert len(after) == 2 and before[0] not in after
            answered_late = [a for s, _, a in outcomes if a is not None and s > until - 2]
            assert any(a["status"] == "success" for a in answered_late)
        answered = [a for _, _, a in outcomes if a is not None]
        assert len(answered) > 200
        await _check_table(database, answered)


@contextmanager
def _postgres_stopped() -> Iterator[None]:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    control = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main"]
    subprocess.run([*control, "stop", "-m", "fast"], check=True, timeout=60)
    try:
        yield
    finally:
        subprocess.run([*control, "start"], check=True, timeout=60)


async def test_database_outage_answers_1010_quickly_and_recovers_by_itself(
    tmp_path: Path,
) -> None:
    async with fresh_store("postgresql", tmp_path) as (store, database):
        await store.close()
        token = await _seed(database)
        outcomes: list[tuple[float, float, dict[str, object] | None]] = []
        with serve(database.url, workers=2, CALLMASK_DB_TIMEOUT_SECONDS="2") as served:
            start = time.monotonic()
            until = start + 14
            load = asyncio.gather(
                *(_hammer(served.url, token, seed, until, outcomes) for seed in range(8))
            )
            await asyncio.sleep(2)
            with _postgres_stopped():
                down_from = time.monotonic()
                await asyncio.sleep(4)
                down_until = time.monotonic()
            await asyncio.wait_for(load, timeout=60)

        during = [(took, a) for s, took, a in outcomes if down_from + 0.5 < s < down_until - 0.5]
        after = [a for s, _, a in outcomes if s > down_until + 4]
        assert during and after
        # Every request during the outage got an answer (no transport error, no hang) ...
        assert all(a is not None for _, a in during)
        assert {a["code"] for _, a in during if a is not None} == {1010}
        assert max(took for took, _ in during) < 4
        # ... and the service came back by itself once PostgreSQL was up again.
        assert all(a is not None and a["code"] != 1010 for a in after), after[:3]
        assert any(a is not None and a["status"] == "success" for a in after)
        await _check_table(database, [a for _, _, a in outcomes if a is not None])


async def test_sigterm_finishes_requests_already_in_flight(tmp_path: Path) -> None:
    async with fresh_store("postgresql", tmp_path) as (store, database):
        await store.close()
        token = await _seed(database)
        with serve(database.url, workers=2, CALLMASK_DB_TIMEOUT_SECONDS="20") as served:
            blocker = await asyncpg.connect(database.url)
            try:
                # Hold every set inside its transaction until we let go, so they are surely
                # in flight when SIGTERM arrives.
                transaction = blocker.transaction()
                await transaction.start()
                await blocker.execute("LOCK TABLE claims IN ACCESS EXCLUSIVE MODE")
                async with httpx.AsyncClient(base_url=served.url, timeout=30) as http:
                    pending = [
                        asyncio.create_task(
                            http.post(
                                "/api/v2/Masking/set",
                                json={
                                    "userId": "acme",
                                    "token": token,
                                    "m1": f"+91980000{i:04d}",
                                    "m2": f"+91970000{i:04d}",
                                },
                            )
                        )
                        for i in range(8)
                    ]
                    await asyncio.sleep(1.5)
                    assert not any(task.done() for task in pending)
                    served.process.send_signal(signal.SIGTERM)
                    await asyncio.sleep(1.0)
                    assert served.process.poll() is None  # waiting for the requests
                    await transaction.commit()
                    answers = [(await task).json() for task in pending]
            finally:
                await blocker.close()
            assert served.process.wait(timeout=30) == 0
        assert [a["status"] for a in answers] == ["success"] * 8
        await _check_table(database, answers)
        rows = await database.rows("SELECT count(*) FROM maskings")
        assert rows == [(8,)]
