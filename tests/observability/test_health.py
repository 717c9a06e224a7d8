"""/healthz answers while the process is up; /readyz only when the database is usable."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from callmask.bootstrap import create_app
from callmask.config import Settings
from callmask.storage.migrations import migrations
from tests.backends import BACKENDS, PG_URL, fresh_database
from tests.support import Live, free_port, serving

pytestmark = pytest.mark.anyio


class Proxy:
    """A TCP proxy to PostgreSQL that a test can stop, or turn into a black hole.

    It runs on an event loop of its own, in a thread, so the server under test and the
    test's own blocking calls do not wait on each other.
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.port = free_port()
        self.upstream = upstream
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server: asyncio.Server | None = None
        self.streams: list[asyncio.StreamWriter] = []

    def _run(self, work: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout=10)

    def start(self, blackhole: bool = False) -> None:
        self._run(self._start(blackhole))

    def stop(self) -> None:
        self._run(self._stop())

    def close(self) -> None:
        self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()

    async def _start(self, blackhole: bool) -> None:
        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, ConnectionError):
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            writer.close()

        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.streams.append(writer)
            if blackhole:
                return  # accepted, never answered
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            self.streams.append(up_writer)
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

        self.server = await asyncio.start_server(accept, "127.0.0.1", self.port)

    async def _stop(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        for writer in self.streams:
            writer.transport.abort()
        self.streams.clear()


@contextlib.contextmanager
def proxy(upstream: tuple[str, int]) -> Iterator[Proxy]:
    running = Proxy(upstream)
    running.start()
    try:
        yield running
    finally:
        running.close()


async def readyz(http: httpx.AsyncClient) -> tuple[int, dict[str, object], float]:
    started = time.monotonic()
    response = await http.get("/readyz")
    return response.status_code, response.json(), time.monotonic() - started


async def until_ready(http: httpx.AsyncClient, seconds: float = 10) -> dict[str, object]:
    deadline = time.monotonic() + seconds
    while True:
        status, body, _ = await readyz(http)
        if status == 200 or time.monotonic() > deadline:
            assert status == 200, body
            return body
        await asyncio.sleep(0.1)


def test_healthz_answers_ok(live: Live) -> None:
    response = live.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.parametrize("kind", BACKENDS)
async def test_readyz_is_200_with_the_checks_when_the_database_is_current(
    kind: str, tmp_path: Path
) -> None:
    async with fresh_database(kind, tmp_path) as database:
        app = create_app(Settings(database_url=database.url))
        with serving(app) as url:
            async with httpx.AsyncClient(base_url=url, timeout=10) as http:
                status, body, _ = await readyz(http)
    assert status == 200
    assert body == {"status": "ready", "checks": {"database": "ok", "migrations": "ok"}}


@pytest.mark.parametrize("kind", BACKENDS)
async def test_readyz_is_503_naming_the_migration_a_database_lacks(
    kind: str, tmp_path: Path
) -> None:
    latest = migrations(kind)[-1].version
    async with fresh_database(kind, tmp_path) as database:
        app = create_app(Settings(database_url=database.url))
        with serving(app) as url:
            async with httpx.AsyncClient(base_url=url, timeout=10) as http:
                await until_ready(http)
                # As if this code's newest migration had never run on the database.
                await database.insert(
                    "DELETE FROM schema_migrations WHERE version = ?", [(latest,)]
                )
                status, body, _ = await readyz(http)
    assert status == 503
    assert body == {
        "status": "not ready",
        "checks": {"database": "ok", "migrations": f"pending [{latest}]"},
    }


async def test_readyz_is_503_quickly_while_postgresql_is_unreachable_then_200_again(
    tmp_path: Path,
) -> None:
    async with fresh_database("postgresql", tmp_path) as database:
        upstream = httpx.URL(PG_URL)
        with proxy((upstream.host, upstream.port or 5432)) as gate:
            proxied = database.url.replace(
                f"{upstream.host}:{upstream.port}", f"127.0.0.1:{gate.port}"
            )
            settings = Settings(
                database_url=proxied, db_timeout_seconds=2, ready_timeout_seconds=0.5
            )
            with serving(create_app(settings)) as url:
                async with httpx.AsyncClient(base_url=url, timeout=10) as http:
                    await until_ready(http)

                    gate.stop()  # the port is closed: connections are refused
                    status, body, took = await readyz(http)
                    assert status == 503, body
                    assert body["checks"] == {
                        "database": "unreachable (StorageUnavailable)",
                        "migrations": "unknown",
                    }
                    assert took < 2

                    gate.start(blackhole=True)  # accepts, never answers
                    status, body, took = await readyz(http)
                    assert status == 503, body
                    assert str(body["checks"]["database"]).startswith("unreachable")
                    assert took < 2, "readyz must not wait longer than its timeout"

                    gate.stop()
                    gate.start()
                    await until_ready(http)


async def test_readyz_is_503_while_the_sqlite_file_is_gone_then_200_again(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    settings = Settings(database_url=f"sqlite:///{folder / 'callmask.db'}")
    with serving(create_app(settings)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            await until_ready(http)
            # The open connection would go on reading the moved file; a new one cannot.
            folder.rename(tmp_path / "elsewhere")
            status, body, took = await readyz(http)
            assert status == 503, body
            assert body["checks"]["database"] == "unreachable (StorageUnavailable)"
            assert took < 2
            (tmp_path / "elsewhere").rename(folder)
            await until_ready(http)
