"""Shared fixtures: a settable clock, a real SQLite file, and the real app on a real socket."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from callmask.bootstrap import build_services, create_app
from callmask.config import Settings
from callmask.storage.sqlite import SqliteStore
from tests.support import POOL, Clock, Live, seed_live, serving


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'callmask.db'}"


@pytest.fixture
def settings(db_url: str, request: pytest.FixtureRequest) -> Settings:
    """Override some with @pytest.mark.parametrize("settings", [{...}], indirect=True)."""
    # Limits off: many tests send bad credentials on purpose or many requests, all from
    # 127.0.0.1 (tests/abuse turns each on).
    chosen = getattr(request, "param", {})
    return Settings(
        database_url=db_url,
        sweep_interval_seconds=3600,
        rate_limit_ip_per_second=0,
        rate_limit_account_per_second=0,
        auth_fail_limit_ip=0,
        auth_fail_limit_user=0,
        **chosen,
    )


@pytest.fixture
def live(settings: Settings, clock: Clock) -> Iterator[Live]:
    """The real app under uvicorn on a free loopback port, in a thread."""
    client_token, router_token = asyncio.run(seed_live(settings, clock, POOL))
    with serving(create_app(settings, clock=clock)) as url, httpx.Client(timeout=10) as http:
        yield Live(url, clock, settings, client_token, router_token, list(POOL), http)


@pytest.fixture
def other_token(live: Live) -> str:
    """A client of account "other" (tests/http and tests/abuse): the seeded user's token is not
    kept, so add one."""

    async def add() -> str:
        store = SqliteStore.from_url(live.settings.database_url)
        try:
            service = build_services(store, live.settings, live.clock)
            return await service.accounts.add_user("other-api", "client", "other")
        finally:
            await store.close()

    return asyncio.run(add())


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# -- Run-wide: no log record carries a full phone number (tests/observability/leaks.py) ----


@pytest.fixture(scope="session", autouse=True)
def log_leaks() -> Iterator[object]:
    """Every record of the run is checked at DEBUG; a full number fails the session."""
    from tests.observability.leaks import watch_session

    yield from watch_session()


@pytest.fixture(autouse=True)
def _debug_logging(log_leaks: object) -> None:
    # Something a test ran (logs.configure, uvicorn) may have raised the root level.
    logging.getLogger().setLevel(logging.DEBUG)
