"""Shared fixtures: a settable clock, a real SQLite file, and the real app on a real socket."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from callmask.bootstrap import build_services, create_app
from callmask.config import Settings
from callmask.service.accounts import Principal
from callmask.storage.sqlite import SqliteStore

# 2026-01-01T00:00:00Z: tests run on this clock, moved by hand.
EPOCH = 1767225600.0


@dataclass
class Clock:
    now: float = EPOCH

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'callmask.db'}"


@pytest.fixture
def settings(db_url: str) -> Settings:
    # Limits off: many tests send bad credentials on purpose or many requests, all from
    # 127.0.0.1 (tests/abuse turns each on).
    return Settings(
        database_url=db_url,
        sweep_interval_seconds=3600,
        rate_limit_ip_per_second=0,
        rate_limit_account_per_second=0,
        auth_fail_limit_ip=0,
        auth_fail_limit_user=0,
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Live:
    """A running server plus the credentials seeded into its database."""

    url: str
    clock: Clock
    settings: Settings
    client_token: str
    router_token: str
    pool: list[str]
    http: httpx.Client = field(repr=False)

    def post(self, path: str, **kwargs: object) -> httpx.Response:
        return self.http.post(self.url + path, **kwargs)  # type: ignore[arg-type]

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        return self.http.get(self.url + path, **kwargs)  # type: ignore[arg-type]

    def auth(self, **params: object) -> dict[str, object]:
        return {"userId": "acme", "token": self.client_token, **params}

    def set(self, **params: object) -> dict[str, object]:
        answer: dict[str, object] = self.post(
            "/api/v2/Masking/set", json=self.auth(**params)
        ).json()
        return answer

    def unset(self, **params: object) -> dict[str, object]:
        answer: dict[str, object] = self.post(
            "/api/v2/Masking/unset", json=self.auth(**params)
        ).json()
        return answer

    def route(self, caller: str, mask: str) -> dict[str, object]:
        answer: dict[str, object] = self.get(
            "/api/v2/Masking/route",
            params={"caller": caller, "mask": mask},
            headers={"Authorization": f"Bearer {self.router_token}"},
        ).json()
        return answer


POOL = ["+918040000000", "+918040000001", "+918040000002"]


async def _seed(settings: Settings, clock: Clock, pool: list[str]) -> tuple[str, str]:
    store = SqliteStore.from_url(settings.database_url)
    try:
        await store.migrate()
        service = build_services(store, settings, clock)
        client = await service.accounts.add_user("acme", "client")
        router = await service.accounts.add_user("sip", "router")
        await service.accounts.add_user("other", "client")
        from callmask.domain.numbers import E164

        await store.add_pool_numbers("acme", [E164(n) for n in pool], service.now_ms())
        await store.add_pool_numbers("other", [E164("+918050000000")], service.now_ms())
        return client, router
    finally:
        await store.close()


@contextmanager
def serving(app: Starlette) -> Iterator[str]:
    """The app under uvicorn (httptools, uvloop) on a free loopback port, in a thread;
    yields its base URL."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=_free_port(),
        access_log=False,
        log_level="warning",
        loop="uvloop",
        http="httptools",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def live(settings: Settings, clock: Clock) -> Iterator[Live]:
    """The real app under uvicorn on a free loopback port, in a thread."""
    client_token, router_token = asyncio.run(_seed(settings, clock, POOL))
    with serving(create_app(settings, clock=clock)) as url, httpx.Client(timeout=10) as http:
        yield Live(url, clock, settings, client_token, router_token, list(POOL), http)


def principal(account: str = "acme", role: str = "client") -> Principal:
    return Principal(account, account, role)


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
