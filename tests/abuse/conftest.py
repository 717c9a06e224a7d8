"""A live server with the limits a test asks for, and fresh stores on both backends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from callmask.config import Settings
from callmask.storage.base import Store
from tests.backends import BACKENDS, Database, fresh_store
from tests.conftest import Live
from tests.http.conftest import other_token

__all__ = ["other_token"]  # a client of account "other", shared with tests/http

# Every limit off unless a test turns it on, so each test sees only the one it is about.
OFF = {
    "rate_limit_ip_per_second": 0.0,
    "rate_limit_account_per_second": 0.0,
    "auth_fail_limit_ip": 0,
    "auth_fail_limit_user": 0,
}


@pytest.fixture
def settings(db_url: str, request: pytest.FixtureRequest) -> Settings:
    """Override with @pytest.mark.parametrize("settings", [{...}], indirect=True)."""
    chosen = getattr(request, "param", {})
    return Settings(database_url=db_url, sweep_interval_seconds=3600, **{**OFF, **chosen})


def limits(**chosen: object) -> pytest.MarkDecorator:
    """Run the test's live server with these settings (the rest of the limits off)."""
    return pytest.mark.parametrize("settings", [chosen], indirect=True, ids=["limits"])


def post_from(
    live: Live, address: str, path: str, body: dict[str, object] | None = None
) -> httpx.Response:
    """A request as if from address: the server trusts X-Forwarded-For from 127.0.0.1."""
    return live.post(path, json=body or {}, headers={"X-Forwarded-For": address})


def route_from(
    live: Live, address: str, params: dict[str, str], bearer: str | None = None
) -> httpx.Response:
    headers = {"X-Forwarded-For": address}
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    return live.get("/api/v2/Masking/route", params=params, headers=headers)


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    pair: tuple[Store, Database]
    async with fresh_store(request.param, tmp_path) as pair:
        yield pair[0]
