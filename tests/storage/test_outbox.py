"""The webhook outbox on every backend: notices written with their change, leased, finished."""

from __future__ import annotations

import asyncio
import dataclasses

import orjson
import pytest

from callmask.bootstrap import build_services
from callmask.config import Settings
from callmask.domain.calls import CallEvent
from callmask.domain.masking import Masking
from callmask.domain.numbers import E164
from callmask.domain.webhooks import Claimed, masking_created
from callmask.service import Services
from callmask.service.webhooks import Webhooks
from callmask.storage.base import Store
from tests.backends import Database
from tests.support import Clock, principal

pytestmark = pytest.mark.anyio

A, B, C = E164("+919876543210"), E164("+919812345678"), E164("+919812345679")
X, Y = E164("+918040000000"), E164("+918040000001")
SETTINGS = Settings(webhook_timeout_seconds=1, webhook_retry_seconds=10, webhook_max_attempts=3)


@dataclasses.dataclass
class World:
    store: Store
    db: Database
    clock: Clock
    service: Services
    hooks: Webhooks

    async def notices(self) -> list[tuple[str, str]]:
        rows = await self.db.rows("SELECT kind, body FROM webhook_events ORDER BY seq")
        return [(str(kind), str(body)) for kind, body in rows]

    async def kinds(self) -> list[str]:
        return [kind for kind, _ in await self.notices()]


@pytest.fixture
async def world(backend: tuple[Store, Database]) -> World:
    store, db = backend
    clock = Clock()
    service = build_services(store, SETTINGS, clock)
    await store.add_pool_numbers("acme", [X, Y], service.now_ms())
    return World(store, db, clock, service, build_services(store, SETTINGS, clock).webhooks)


async def test_a_change_writes_a_notice_only_for_an_account_with_a_webhook(world: World) -> None:
    await world.service.maskings.set_masking(principal(), A, B)
    assert await world.notices() == []
    await world.hooks.set_webhook("acme", "http://127.0.0.1:9/hook")
    made = await world.service.maskings.set_masking(principal(), A, C, event_id="order-9")
    [(kind, body)] = await world.notices()
    assert kind == "masking.created"
    data = orjson.loads(body)["data"]
    assert (data["maskingId"], data["eventId"], data["m2"]) == (made.masking_id, "order-9", C)


async def test_a_rolled_back_change_leaves_no_notice(world: World) -> None:
    await world.hooks.set_webhook("acme", "http://127.0.0.1:9/hook")
    masking = Masking("mk-1", "acme", A, B, X, None, 0, 10**13)
    with pytest.raises(RuntimeError):
        async with world.store.transaction() as tx:
            await tx.insert(masking)
            assert await tx.notify([masking_created(masking, 0)]) == 1
            raise RuntimeError("crash before commit")
    assert await world.notices() == []


async def test_a_notice_that_happens_once_is_stored_once(world: World) -> None:
    await world.hooks.set_webhook("acme", "http://127.0.0.1:9/hook")
    masking = Masking("mk-1", "acme", A, B, X, None, 0, 10**13)
    async with world.store.transaction() as tx:
        assert await tx.notify([masking_created(masking, 0)]) == 1
        assert await tx.notify([masking_created(masking, 5)]) == 0
    assert await world.kinds() == ["masking.created"]


async def test_unset_announces_an_end_now_or_a_new_expiry(world: World) -> None:
    await world.hooks.set_webhook("acme", "http://127.0.0.1:9/hook")
    await world.service.maskings.set_masking(principal(), A, B, expiry_duration=30)
    await world.service.maskings.set_masking(principal(), A, C, expiry_duration=30)
    await world.service.maskings.unset_masking(principal(), m2=B, expiry_duration=60)
    await world.service.maskings.unset_masking(principal(), m1=A)
    notices = await world.notices()
    assert [kind for kind, _ in notices] == [
        "masking.created",
        "masking.created",
        "masking.updated",
        "masking.ended",
        "masking.ended",
    ]
    updated = orjson.loads(notices[2][1])["data"]
    assert updated["expiry_time"] == int(world.clock.now) + 3600
    ended = [orjson.loads(body)["data"] for _, body in notices[3:]]
    assert {(d["m2"], d["endReason"], d["status"]) for d in ended} == {
        (B, "unset", "ended"),
        (C, "unset", "ended"),
    }


async def test_a_lapsed_masking_is_announced_once_by_the_sweep_or_the_next_set(
    world: World,
) -> None:
    await world.hooks.set_webhook("acme", "http://127.0.0.1:9/hook")
    await world.service.maskings.set_masking(principal(), A, B, expiry_duration=1)
    await world.service.maskings.set_masking(principal(), A, C, expiry_duration=1)
    world.clock.advance(61)
    # The pair's next set closes its lapsed masking itself; the sweeper closes the other.
    await world.service.maskings.set_masking(principal(), A, B, expiry_duration=1)
    other = build_services(world.store, SETTINGS, world.clock)
    closed = await asyncio.gather(world.service.maskings.sweep(), other.maskings.sweep())
    assert sorted(closed) == [0, 1]
    assert await world.service.maskings.sweep() == 0
    ended = [orjson.loads(b)["data"] for k, b in await world.notices() if k == "masking.ended"]
    assert sorted(d["m2"] for d in ended) == sorted([B, C])
    assert {d["endReason"] for d in ended} == {"expired"}


async def test_call_steps_are_announced_once_each_whatever_the_order(world: World) -> None:
    await world.hooks.set_webhook("acme", "http://127.0.0.1:9/hook")
    made = await world.service.maskings.set_masking(principal(), A, B)
    ts = world.service.now_ms()
    start = CallEvent("start", "call-1", ts, masking_id=made.masking_id, mask=X, caller=A, callee=B)
    answer = CallEvent("answer", "call-1", ts + 2000, sip_status=200)
    end = CallEvent("end", "call-1", ts + 9000, duration_s=7, sip_status=200)
    # The end arrives first: its account is known only once the start names the masking.
    for event in (end, start, start, answer, end, answer):
        await world.service.routing.record_call_event(event)
    notices = await world.notices()
    assert [kind for kind, _ in notices] == [
        "masking.created",
        "call.started",
        "call.ended",
        "call.answered",
    ]
    ended = orjson.loads(notices[2][1])["data"]
    assert (ended["callId"], ended["duration"], ended["status"], ended["caller"]) == (
        "call-1",
        7,
        "completed",
        A,
    )


async def test_removing_a_number_by_force_announces_its_maskings_ended(world: World) -> None:
    await world.hooks.set_webhook("acme", "http://127.0.0.1:9/hook")
    await world.service.maskings.set_masking(principal(), A, B)
    assert await world.service.pool.remove([X], force=True) == 1
    kind, body = (await world.notices())[-1]
    assert (kind, orjson.loads(body)["data"]["endReason"]) == ("masking.ended", "number removed")


async def _notices(world: World, count: int) -> None:
    await world.hooks.set_webhook("acme", "http://127.0.0.1:9/hook")
    for n in range(count):
        masking = Masking(f"mk-{n:03d}", "acme", A, B, X, None, 0, 10**13)
        async with world.store.transaction() as tx:
            await tx.notify([masking_created(masking, world.service.now_ms())])


async def test_a_claimed_notice_is_leased_until_its_lease_runs_out(world: World) -> None:
    await _notices(world, 1)
    [first] = await world.hooks.claim(10)
    assert (first.attempt, first.url) == (1, "http://127.0.0.1:9/hook")
    assert await world.hooks.claim(10) == []
    world.clock.advance(world.hooks.lease_ms / 1000)
    [again] = await world.hooks.claim(10)
    assert (again.event_id, again.attempt) == (first.event_id, 2)


async def test_concurrent_claimers_share_the_notices_without_overlap(world: World) -> None:
    await _notices(world, 120)
    others = [build_services(world.store, SETTINGS, world.clock).webhooks for _ in range(4)]

    async def drain(hooks: Webhooks) -> list[Claimed]:
        taken: list[Claimed] = []
        while batch := await hooks.claim(7):
            taken += batch
            await asyncio.sleep(0)
        return taken

    results = await asyncio.gather(*(drain(h) for h in others))
    ids = [c.event_id for taken in results for c in taken]
    assert len(ids) == len(set(ids)) == 120


async def test_attempts_retry_with_backoff_then_fail_and_are_logged(world: World) -> None:
    await _notices(world, 1)
    outcomes = []
    for _ in range(SETTINGS.webhook_max_attempts):
        [claimed] = await world.hooks.claim(1)
        attempt = await world.hooks.finish(claimed, 503, None, 12)
        outcomes.append(attempt.outcome)
        assert await world.hooks.claim(1) == []
        world.clock.advance((attempt.next_attempt_ms - world.service.now_ms()) / 1000)
    assert outcomes == ["retry", "retry", "failed"]
    assert await world.hooks.claim(1) == []
    log = await world.hooks.log("acme", 10)
    assert [(d.attempt, d.http_status, d.outcome) for d in log] == [
        (3, 503, "failed"),
        (2, 503, "retry"),
        (1, 503, "retry"),
    ]
    assert await world.hooks.counts("acme") == {"pending": 0, "delivered": 0, "failed": 1}


async def test_retries_wait_10_then_20_seconds(world: World) -> None:
    await _notices(world, 1)
    delays = []
    for _ in range(2):
        [claimed] = await world.hooks.claim(1)
        attempt = await world.hooks.finish(claimed, None, "ConnectError", 3)
        delays.append(attempt.next_attempt_ms - attempt.attempted_ms)
        world.clock.advance(delays[-1] / 1000)
    assert delays == [10_000, 20_000]


async def test_a_receiver_that_looks_down_holds_back_the_accounts_other_notices(
    world: World,
) -> None:
    await _notices(world, 5)
    [first] = await world.hooks.claim(1)
    await world.hooks.finish(first, None, "ConnectError", 3)
    assert await world.hooks.claim(10) == []
    world.clock.advance(10)
    assert len(await world.hooks.claim(10)) == 5


async def test_a_receiver_refusing_one_notice_does_not_hold_back_the_others(
    world: World,
) -> None:
    await _notices(world, 5)
    [first] = await world.hooks.claim(1)
    await world.hooks.finish(first, 400, None, 3)
    assert len(await world.hooks.claim(10)) == 4


async def test_a_delivered_notice_is_not_sent_again(world: World) -> None:
    await _notices(world, 1)
    [claimed] = await world.hooks.claim(1)
    await world.hooks.finish(claimed, 204, None, 3)
    world.clock.advance(3600)
    assert await world.hooks.claim(1) == []
    assert await world.hooks.counts("acme") == {"pending": 0, "delivered": 1, "failed": 0}


async def test_removing_the_webhook_drops_its_pending_notices(world: World) -> None:
    await _notices(world, 3)
    assert await world.hooks.remove_webhook("acme")
    assert not await world.hooks.remove_webhook("acme")
    assert await world.hooks.claim(10) == []
    assert await world.hooks.counts("acme") == {"pending": 0, "delivered": 0, "failed": 3}
    await world.service.maskings.set_masking(principal(), A, B)
    assert await world.hooks.counts("acme") == {"pending": 0, "delivered": 0, "failed": 3}


async def test_setting_the_webhook_again_changes_url_and_secret(world: World) -> None:
    first = await world.hooks.set_webhook("acme", "http://127.0.0.1:9/a")
    second = await world.hooks.set_webhook("acme", "https://hooks.example.com/b")
    hook = await world.hooks.webhook("acme")
    assert hook is not None and first != second
    assert (hook.url, hook.secret) == ("https://hooks.example.com/b", second)
    assert second.startswith("whsec_") and len(second) > 40
