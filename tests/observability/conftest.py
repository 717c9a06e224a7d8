"""Seeding a store of either kind for the observability tests (servers: tests.conftest.serving)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from callmask.storage.base import Store
from tests.backends import BACKENDS, Database, fresh_store


@pytest.fixture(params=BACKENDS)
async def backend(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Store, Database]]:
    async with fresh_store(request.param, tmp_path) as pair:
        yield pair
