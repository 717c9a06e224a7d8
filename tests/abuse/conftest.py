"""A live server with the limits a test asks for, and fresh stores on both backends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from callmask.config import Settings
from callmask.storage.base import Store
from tests.backends import BACKENDS, Database, fresh_store
from tests.support import OFF


@pytest.fixture
def settings(db_url: str, request: pytest.FixtureRequest) -> Settings:
    """Override with @pytest.mark.parametrize("settings", [{...}], indirect=True). The tests
    send as if from many addresses, through a proxy on 127.0.0.1 (tests.support.post_from)."""
    chosen = {**OFF, "trusted_proxies": "127.0.0.1", **getattr(request, "param", {})}
    return Settings(database_url=db_url, sweep_interval_seconds=3600, **chosen)


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    pair: tuple[Store, Database]
    async with fresh_store(request.param, tmp_path) as pair:
        yield pair[0]
