"""The call-event consumer against a real Redis and real databases.

Each test uses a queue of its own on the shared Redis and deletes its keys afterwards.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import sqlite3
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import asyncpg
import orjson
import pytest
import redis
import redis.asyncio as aioredis

from callmask.bootstrap import build_services
from callmask.config import Settings
from callmask.domain.masking import Masking
from callmask.domain.numbers import E164
from callmask.sip.events import CallEventConsumer
from callmask.storage.base import Store
from callmask.storage.postgres import PostgresStore
from tests.backends import BACKENDS, fresh_database, fresh_store
from tests.support import Live, free_port

pytestmark = pytest.mark.anyio

REDIS_URL = os.environ.get("CALLMASK_TEST_REDIS", "redis://127.0.0.1:6379")
A, B, X = E164("+919876543210"), E164("+919812345678"), E164("+918040000000")
NOW = 1_767_225_600_000
BLOCK_S = 0.2


def _event(kind: str, call_id: str, **fields: object) -> bytes:
    return orjson.dumps({"event": kind, "callId": call_id, "ts": NOW + 1_000, **fields})


def _start(call_id: str, masking_id: str = "mk-1", caller: str = A) -> bytes:
    return _event("start", call_id, maskingId=masking_id, mask=X, caller=caller, callee=B)


@pytest.fixture
def queue() -> Iterator[str]:
    name = f"callmask:test:{secrets.token_hex(6)}"
    yield name
    with redis.Redis.from_url(REDIS_URL) as client:
        client.delete(name, name + ":processing", name + ":dead")


@pytest.fixture
async def rds() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    async with fresh_store(request.param, tmp_path) as (store, _):
        await store.add_pool_numbers("acme", [X], NOW)
        async with store.transaction() as tx:
            await tx.insert(Masking("mk-1", "acme", A, B, X, "order-7", NOW, NOW + 3_600_000))
        yield store


@asynccontextmanager
async def consuming(
    store: Store, queue: str, url: str = REDIS_URL
) -> AsyncIterator[CallEventConsumer]:
    consumer = CallEventConsumer(
        build_services(store, Settings()).routing, url, queue, block_s=BLOCK_S
    )
    consumer.start()
    try:
        yield consumer
    finally:
        await consumer.stop()


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def _outcome(store: Store, call_id: str) -> str | None:
    record = await store.call(call_id)
    return None if record is None else record.outcome


async def _lengths(rds: aioredis.Redis, queue: str) -> tuple[int, int, int]:
    return (
        await rds.llen(queue),
        await rds.llen(queue + ":processing"),
        await rds.llen(queue + ":dead"),
    )


async def test_pushed_events_are_stored_and_leave_nothing_in_redis(
    store: Store, queue: str, rds: aioredis.Redis
) -> None:
    async with consuming(store, queue):
        await rds.rpush(
            queue,
            _start("c1"),
            _event("answer", "c1"),
            _event("end", "c1", duration=42),
            _event("failed", "c2", status=486),
        )

        async def stored() -> bool:
            return await _outcome(store, "c1") == "completed" and await _outcome(store, "c2")

        await eventually(stored)
    record = await store.call("c1")
    assert record is not None
    assert (record.account_id, record.event_id, record.caller, record.duration_s) == (
        "acme",
        "order-7",
        A,
        42,
    )
    assert await _lengths(rds, queue) == (0, 0, 0)


async def test_an_event_left_in_processing_by_a_killed_consumer_is_stored_at_start(
    store: Store, queue: str, rds: aioredis.Redis
) -> None:
    await rds.rpush(queue + ":processing", _start("c1"))
    async with consuming(store, queue):

        async def stored() -> bool:
            return await _outcome(store, "c1") == "ringing"

        await eventually(stored)
        await eventually(lambda: _empty(rds, queue + ":processing"))
    assert await _lengths(rds, queue) == (0, 0, 0)


async def _empty(rds: aioredis.Redis, key: str) -> bool:
    return await rds.llen(key) == 0


async def test_a_malformed_event_goes_to_dead_and_the_next_good_one_is_stored(
    store: Store, queue: str, rds: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="callmask")
    national = "09876543210"
    bad = [b"not json", _start("c0", caller=national), _event("end", "c9", duration="42")]
    await rds.rpush(queue, *bad, _start("c1"))
    async with consuming(store, queue):

        async def stored() -> bool:
            return await _outcome(store, "c1") == "ringing"

        await eventually(stored)
    assert await rds.lrange(queue + ":dead", 0, -1) == bad
    assert await _lengths(rds, queue) == (0, 0, 3)
    assert await store.call("c0") is None
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("callmask"))
    assert logged.count("moved to " + queue + ":dead") == 3
    assert "…3210" in logged
    assert national[1:] not in logged and A[3:] not in logged


async def test_an_end_at_the_time_limit_is_stored_as_such_and_a_bad_cause_is_dead(
    store: Store, queue: str, rds: aioredis.Redis
) -> None:
    bad = _event("end", "c2", duration=5, cause="timeout")
    await rds.rpush(queue, _start("c1"), _event("end", "c1", duration=90, cause="limit"), bad)
    async with consuming(store, queue):

        async def stored() -> bool:
            return await _outcome(store, "c1") == "completed" and await rds.llen(queue) == 0

        await eventually(stored)
    record = await store.call("c1")
    assert record is not None and (record.duration_s, record.ended_by) == (90, "limit")
    await eventually(lambda: _empty(rds, queue + ":processing"))
    assert await rds.lrange(queue + ":dead", 0, -1) == [bad]
    assert await store.call("c2") is None


async def test_an_event_dated_beyond_year_9999_is_dead_with_its_reason_logged(
    store: Store, queue: str, rds: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="callmask")
    late = orjson.dumps({"event": "end", "callId": "c1", "ts": 253_402_300_800_000, "duration": 5})
    await rds.rpush(queue, _start("c1"), late, _event("answer", "c1"))
    async with consuming(store, queue):

        async def stored() -> bool:
            return await _outcome(store, "c1") == "answered" and await rds.llen(queue) == 0

        await eventually(stored)
        await eventually(lambda: _empty(rds, queue + ":processing"))
    assert await rds.lrange(queue + ":dead", 0, -1) == [late]
    record = await store.call("c1")
    assert record is not None and record.ended_ms is None
    logged = [r.getMessage() for r in caplog.records if "moved to" in r.getMessage()]
    assert len(logged) == 1 and "ts must be" in logged[0]


async def test_a_forwarded_call_as_the_proxy_reports_it_is_stored_under_the_dids_account(
    store: Store, queue: str, rds: aioredis.Redis
) -> None:
    fallback = "+918012345678"
    forwarded = _event(
        "start",
        "f1",
        maskingId="",
        mask=X,
        caller="",
        callee=fallback,
        lookupUs=250,
        action="forward",
    )
    confused = _event(
        "start", "f2", maskingId="mk-1", mask=X, caller=A, callee=fallback, action="forward"
    )
    await rds.rpush(queue, forwarded, _event("answer", "f1"), _event("end", "f1", duration=3))
    await rds.rpush(queue, confused)
    async with consuming(store, queue):

        async def stored() -> bool:
            done = await _outcome(store, "f1") == "completed"
            return done and await rds.llen(queue + ":dead") == 1

        await eventually(stored)
    record = await store.call("f1")
    assert record is not None
    assert (record.account_id, record.masking_id, record.caller, record.callee) == (
        "acme",
        None,
        None,
        fallback,
    )
    assert record.action == "forward"
    assert await rds.lrange(queue + ":dead", 0, -1) == [confused]


async def test_events_pushed_while_no_consumer_runs_are_all_stored_once_one_starts(
    store: Store, queue: str, rds: aioredis.Redis
) -> None:
    async with consuming(store, queue):
        await rds.rpush(queue, _start("c0"))
        await eventually(lambda: _stored_count(store, 1))
    # callmask is down: the proxy keeps pushing.
    for n in range(1, 60):
        await rds.rpush(queue, _start(f"c{n}"), _event("end", f"c{n}", duration=n))
    await asyncio.sleep(2 * BLOCK_S)
    assert await rds.llen(queue) == 118
    async with consuming(store, queue):
        await eventually(lambda: _empty(rds, queue))
        await eventually(lambda: _empty(rds, queue + ":processing"))
    for n in range(1, 60):
        record = await store.call(f"c{n}")
        assert record is not None
        assert (record.outcome, record.duration_s, record.account_id) == ("completed", n, "acme")


async def _stored_count(store: Store, count: int) -> bool:
    return all([await store.call(f"c{n}") is not None for n in range(count)])


async def test_two_consumers_on_one_queue_store_every_event(
    store: Store, queue: str, rds: aioredis.Redis
) -> None:
    events = []
    for n in range(100):
        events += [_start(f"c{n}"), _event("answer", f"c{n}"), _event("end", f"c{n}", duration=n)]
    async with consuming(store, queue), consuming(store, queue):
        await rds.rpush(queue, *events)
        await eventually(lambda: _empty(rds, queue))
        await eventually(lambda: _empty(rds, queue + ":processing"))
    for n in range(100):
        record = await store.call(f"c{n}")
        assert record is not None
        assert (record.outcome, record.duration_s, record.sip_status) == ("completed", n, 200)


async def test_stop_is_prompt_while_waiting_on_an_empty_queue(store: Store, queue: str) -> None:
    consumer = CallEventConsumer(
        build_services(store, Settings()).routing, REDIS_URL, queue, block_s=1.0
    )
    consumer.start()
    await asyncio.sleep(0.3)
    began = time.monotonic()
    await consumer.stop()
    assert time.monotonic() - began < 1.5


async def test_an_event_waits_in_processing_while_the_database_refuses_it(
    tmp_path: Path, queue: str, rds: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    async with fresh_database("postgresql", tmp_path) as database:
        store = PostgresStore(database.url, pool_size=2, timeout_s=0.3)
        blocker = await asyncpg.connect(database.url)
        try:
            await store.migrate()
            lock = blocker.transaction()
            await lock.start()
            await blocker.execute("LOCK TABLE calls IN ACCESS EXCLUSIVE MODE")
            async with consuming(store, queue):
                await rds.rpush(queue, _start("c1"))

                async def retried() -> bool:
                    return "database unavailable" in caplog.text

                await eventually(retried)
                await asyncio.sleep(0.5)
                assert await rds.lrange(queue + ":processing", 0, -1) == [_start("c1")]
                await lock.rollback()

                async def stored() -> bool:
                    return await _outcome(store, "c1") == "ringing"

                await eventually(stored)
                await eventually(lambda: _empty(rds, queue + ":processing"))
        finally:
            await blocker.close()
            await store.close()


@contextmanager
def _redis_server(port: int) -> Iterator[None]:
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1"]
    server = subprocess.Popen(
        [*command, "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        with redis.Redis(port=port) as probe:
            while True:
                try:
                    probe.ping()
                    break
                except redis.ConnectionError:
                    assert time.monotonic() < deadline, "redis-server did not start"
                    time.sleep(0.02)
        yield
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
async def test_consumer_rides_out_a_redis_outage_and_consumes_when_it_is_back(
    store: Store, queue: str
) -> None:
    port = free_port()
    url = f"redis://127.0.0.1:{port}"

    async def push(event: bytes) -> None:
        async with aioredis.Redis.from_url(url) as client:
            await client.rpush(queue, event)

    async with consuming(store, queue, url) as consumer:
        # Redis is not there yet: the consumer keeps trying without stopping.
        await asyncio.sleep(0.5)
        assert consumer._task is not None and not consumer._task.done()
        with _redis_server(port):
            await push(_start("c1"))

            async def started() -> bool:
                return await _outcome(store, "c1") == "ringing"

            await eventually(started)
        # ... and again after it went away mid-run (without persistence: a fresh, empty Redis).
        await asyncio.sleep(0.5)
        with _redis_server(port):
            await push(_event("end", "c1", duration=7))

            async def ended() -> bool:
                return await _outcome(store, "c1") == "completed"

            await eventually(ended)
        assert not consumer._task.done()


@pytest.fixture
def settings(db_url: str, queue: str) -> Settings:
    return Settings(
        database_url=db_url,
        sweep_interval_seconds=3600,
        events_redis_url=REDIS_URL,
        events_queue=queue,
    )


def test_the_app_stores_call_events_linked_to_a_masking_set_over_http(
    live: Live, queue: str
) -> None:
    answer = live.set(m1=A, m2=B, eventId="order-9")
    assert answer["status"] == "success"
    event = {"maskingId": answer["maskingId"], "mask": answer["mask"], "caller": B, "callee": A}
    with redis.Redis.from_url(REDIS_URL) as client:
        client.rpush(queue, _event("start", "sip-1", **event), _event("answer", "sip-1"))
    path = live.settings.database_url.removeprefix("sqlite:///")
    deadline = time.monotonic() + 10
    while True:
        with sqlite3.connect(path) as conn:
            rows = conn.execute(
                "SELECT account_id, masking_id, event_id, mask, outcome FROM calls"
                " WHERE call_id = 'sip-1'"
            ).fetchall()
        if rows and rows[0][-1] == "answered":
            break
        assert time.monotonic() < deadline, rows
        time.sleep(0.02)
    assert rows == [("acme", answer["maskingId"], "order-9", answer["mask"], "answered")]
