"""Purging what is past retention, in small batches, on every backend."""

from __future__ import annotations

import pytest

from callmask.bootstrap import build_services
from callmask.config import Settings
from callmask.domain.calls import CallEvent
from callmask.domain.masking import Masking
from callmask.domain.numbers import E164
from callmask.domain.retention import Purged
from callmask.domain.webhooks import masking_created
from callmask.storage.base import Store
from tests.backends import Database
from tests.support import Clock, principal

pytestmark = pytest.mark.anyio

X = E164("+918040000000")
DAY_MS = 86_400_000


def _party(n: int) -> E164:
    return E164(f"+9198{n:08d}")


async def _count(db: Database, table: str) -> int:
    return int((await db.rows(f"SELECT count(*) FROM {table}"))[0][0])


async def test_purge_deletes_only_what_ended_or_started_before_the_cutoff(
    backend: tuple[Store, Database],
) -> None:
    store, db = backend
    clock = Clock()
    settings = Settings(webhook_retry_seconds=1)
    service = build_services(store, settings, clock)
    hooks = build_services(store, settings, clock).webhooks
    await store.add_pool_numbers("acme", [X], service.now_ms())
    await hooks.set_webhook("acme", "http://127.0.0.1:9/hook")
    # Day 0: 23 maskings that end at once, each with a call, a notice and a delivery attempt.
    for n in range(23):
        made = await service.maskings.set_masking(principal(), _party(2 * n), _party(2 * n + 1))
        start = CallEvent(
            "start", f"old-{n}", service.now_ms(), made.masking_id, X, made.m1, made.m2
        )
        await service.routing.record_call_event(start)
        await service.maskings.unset_masking(principal(), mask=X, m1=made.m1)
    for claimed in await hooks.claim(100):
        await hooks.finish(claimed, 200, None, 1)
    # A call whose start never came, last heard of on day 0.
    await service.routing.record_call_event(
        CallEvent("end", "headless", service.now_ms(), duration_s=3)
    )
    # A masking made on day 0 and kept alive (extended every 29 days) stays, however old.
    keeper = await service.maskings.set_masking(
        principal(), _party(90), _party(91), expiry_duration=43200
    )
    for _ in range(3):
        clock.advance(29 * 86400)
        await service.maskings.unset_masking(principal(), m1=keeper.m1, expiry_duration=43200)
    clock.advance(12 * 86400)
    # Day 99: one more ended masking and call, inside the retention period.
    recent = await service.maskings.set_masking(principal(), _party(80), _party(81))
    await service.routing.record_call_event(
        CallEvent("start", "new", service.now_ms(), recent.masking_id, X, recent.m1, recent.m2)
    )
    await service.maskings.unset_masking(principal(), m1=recent.m1)
    clock.advance(86400)

    cutoff = service.retention.cutoff(90)
    purged = await service.retention.purge(cutoff, batch=5)

    assert purged.maskings == 23 and purged.calls == 24
    assert purged.notices >= 23 * 3 and purged.deliveries >= 23
    left = await db.rows("SELECT masking_id FROM maskings ORDER BY created_ms")
    assert [row[0] for row in left] == [keeper.masking_id, recent.masking_id]
    assert [row[0] for row in await db.rows("SELECT call_id FROM calls")] == ["new"]
    assert await _count(db, "claims") == 2  # the keeper's two parties
    assert await _count(db, "webhook_deliveries") == 0
    assert await service.retention.purge(cutoff, batch=5) == Purged()


async def test_an_ended_masking_whose_claims_linger_is_still_purged(
    backend: tuple[Store, Database],
) -> None:
    store, db = backend
    masking = Masking("mk-1", "acme", _party(1), _party(2), X, None, 0, DAY_MS)
    await store.add_pool_numbers("acme", [X], 0)
    async with store.transaction() as tx:
        await tx.insert(masking)
        await tx.notify([masking_created(masking, 0)])
    await db.insert("UPDATE maskings SET ended_ms = 5, end_reason = 'unset'", [()])
    assert await build_services(store, Settings()).retention.purge(10 * DAY_MS) == Purged(
        maskings=1
    )
    assert await _count(db, "claims") == 0 and await _count(db, "maskings") == 0
