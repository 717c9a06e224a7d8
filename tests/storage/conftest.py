from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from callmask.config import Settings
from callmask.service import MaskingService
from callmask.storage.base import Store
from callmask.storage.sqlite import SqliteStore
from tests.conftest import Clock


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = SqliteStore(str(tmp_path / "store.db"))
    await opened.migrate()
    yield opened
    await opened.close()


@pytest.fixture
def service(store: Store, clock: Clock) -> MaskingService:
    return MaskingService(store, Settings(), clock)
