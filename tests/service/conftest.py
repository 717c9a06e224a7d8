"""The use cases over a real store: a SQLite file and a PostgreSQL schema of their own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from callmask.bootstrap import build_services
from callmask.config import Settings
from callmask.service import Services
from callmask.storage.base import Store
from tests.backends import BACKENDS, fresh_store
from tests.support import Clock


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    async with fresh_store(request.param, tmp_path) as (opened, _):
        yield opened


@pytest.fixture
def services(store: Store, clock: Clock) -> Services:
    return build_services(store, Settings(ssid_ttl_minutes=60), clock)
