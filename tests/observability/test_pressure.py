"""The stores' pool pressure and migration state, against raw counts in each database."""

from __future__ import annotations

import pytest

from callmask.bootstrap import build_services
from callmask.config import Settings
from callmask.domain.numbers import E164
from callmask.domain.pool import AccountPressure
from callmask.service.accounts import Principal
from callmask.storage.base import Store
from callmask.storage.migrations import migrations
from tests.backends import Database
from tests.support import Clock

pytestmark = pytest.mark.anyio

POOL = [E164(f"+91804000000{i}") for i in range(4)]
A, B, C, D, E = (E164(f"+9198123456{n:02d}") for n in range(70, 75))


async def test_pressure_counts_live_maskings_and_the_busiest_party(
    backend: tuple[Store, Database],
) -> None:
    store, database = backend
    clock = Clock()
    service = build_services(store, Settings(), clock)
    await store.add_pool_numbers("acme", POOL, service.now_ms())
    await store.add_pool_numbers("idle", [E164("+918050000000")], service.now_ms())
    acme = Principal("acme", "acme", "client")
    await service.maskings.set_masking(acme, A, B, expiry_duration=60)
    await service.maskings.set_masking(acme, A, C, expiry_duration=5)
    await service.maskings.set_masking(acme, A, D, expiry_duration=60)
    await service.maskings.set_masking(acme, E, B, expiry_duration=60)
    await service.maskings.unset_masking(acme, m1=A, m2=D)

    assert await store.pressure(service.now_ms()) == [
        AccountPressure("acme", 4, 3, 2),
        AccountPressure("idle", 1, 0, 0),
    ]
    clock.advance(10 * 60)  # A-C lapsed; nothing has swept it
    [acme_now, _] = await store.pressure(service.now_ms())
    assert acme_now == AccountPressure("acme", 4, 2, 2)  # A and B hold two each
    live = await database.rows(
        "SELECT count(*) FROM maskings WHERE ended_ms IS NULL AND expires_ms > ?",
        service.now_ms(),
    )
    assert live[0][0] == acme_now.active_maskings


async def test_pressure_counts_each_accounts_undelivered_webhook_notices(
    backend: tuple[Store, Database],
) -> None:
    store, database = backend
    service = build_services(store, Settings())
    await store.add_pool_numbers("acme", POOL, service.now_ms())
    # Nothing listens there: the notices stay pending (no deliverer runs here anyway).
    await service.webhooks.set_webhook("acme", "http://127.0.0.1:9/hook")
    acme = Principal("acme", "acme", "client")
    await service.maskings.set_masking(acme, A, B, expiry_duration=60)
    await service.maskings.set_masking(acme, A, C, expiry_duration=60)
    [row] = await store.pressure(service.now_ms())
    pending = await database.rows(
        "SELECT count(*) FROM webhook_events WHERE account_id = ? AND status = 'pending'", "acme"
    )
    assert row.webhook_pending == pending[0][0] == 2
    # Delivered or given up on, a notice is no longer in the backlog.
    await database.insert(
        "UPDATE webhook_events SET status = 'delivered'"
        " WHERE seq IN (SELECT min(seq) FROM webhook_events)",
        [()],
    )
    [row] = await store.pressure(service.now_ms())
    assert row.webhook_pending == 1


async def test_pending_migrations_are_the_shipped_ones_the_database_lacks(
    backend: tuple[Store, Database],
) -> None:
    store, database = backend
    assert await store.pending_migrations(1.0) == []
    shipped = [m.version for m in migrations(database.kind)]
    await database.insert(
        "DELETE FROM schema_migrations WHERE version IN (?, ?)", [(shipped[0], shipped[-1])]
    )
    assert await store.pending_migrations(1.0) == [shipped[0], shipped[-1]]
