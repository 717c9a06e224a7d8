"""A real server around any app (the `live` fixture's way), and seeding a store of either kind."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette

from callmask.domain.numbers import E164
from callmask.service import MaskingService
from callmask.storage.base import Store
from tests.backends import BACKENDS, Database, fresh_store
from tests.conftest import Clock, _free_port

POOL = [E164(f"+91804000000{i}") for i in range(3)]


@contextmanager
def serving(app: Starlette) -> Iterator[str]:
    """The app under uvicorn on a free loopback port, in a thread; yields its base URL."""
    port = _free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
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
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


async def seed(store: Store, service: MaskingService, clock: Clock) -> tuple[str, str]:
    """acme (client, pool of three), sip (router), other (client, pool of one)."""
    client = await service.add_user("acme", "client")
    router = await service.add_user("sip", "router")
    await service.add_user("other", "client")
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
