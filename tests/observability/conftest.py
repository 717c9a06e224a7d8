"""Seeding a store of either kind for the observability tests (servers: tests.conftest.serving)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from callmask.domain.numbers import E164
from callmask.service import Services
from callmask.storage.base import Store
from tests.backends import BACKENDS, Database, fresh_store
from tests.conftest import Clock

POOL = [E164(f"+91804000000{i}") for i in range(3)]


async def seed(store: Store, service: Services, clock: Clock) -> tuple[str, str]:
    """acme (client, pool of three), sip (router), other (client, pool of one)."""
    client = await service.accounts.add_user("acme", "client")
    router = await service.accounts.add_user("sip", "router")
    await service.accounts.add_user("other", "client")
    now = int(clock() * 1000)
    await store.add_pool_numbers("acme", POOL, now)
    await store.add_pool_numbers("other", [E164("+918050000000")], now)
    return client, router


@pytest.fixture(params=BACKENDS)
async def backend(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Store, Database]]:
    async with fresh_store(request.param, tmp_path) as pair:
        yield pair
