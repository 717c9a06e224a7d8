"""Fresh real databases for tests: a SQLite file, or a PostgreSQL schema of its own."""

from __future__ import annotations

import os
import secrets
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg

from callmask.bootstrap import build_services
from callmask.config import Settings
from callmask.domain.numbers import E164
from callmask.storage.base import Store
from callmask.storage.postgres import PostgresStore
from callmask.storage.sqlite import SqliteStore

BACKENDS = ["sqlite", "postgresql"]
# CI and the developers' machines run PostgreSQL here with trust auth; a missing server fails.
PG_URL = os.environ.get("CALLMASK_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


class Database:
    """Where a test's store lives, and raw SQL against it for checks behind the store's back."""

    def __init__(self, kind: str, url: str, schema: str | None = None) -> None:
        self.kind = kind
        self.url = url
        self.schema = schema

    async def rows(self, statement: str, *args: object) -> list[tuple[Any, ...]]:
        """Run a ?-placeholder statement on a separate connection."""
        if self.kind == "sqlite":
            conn = sqlite3.connect(self.url.removeprefix("sqlite:///"))
            try:
                return conn.execute(statement, args).fetchall()
            finally:
                conn.close()
        from callmask.storage.sql import numbered

        pg = await asyncpg.connect(self.url)
        try:
            return [tuple(row) for row in await pg.fetch(numbered(statement), *args)]
        finally:
            await pg.close()

    async def insert(self, statement: str, rows: list[tuple[object, ...]]) -> None:
        """Many rows in one go (executemany), behind the store's back: test data."""
        if self.kind == "sqlite":
            conn = sqlite3.connect(self.url.removeprefix("sqlite:///"))
            try:
                with conn:
                    conn.executemany(statement, rows)
            finally:
                conn.close()
            return
        from callmask.storage.sql import numbered

        pg = await asyncpg.connect(self.url)
        try:
            await pg.executemany(numbered(statement), rows)
        finally:
            await pg.close()


@asynccontextmanager
async def fresh_database(kind: str, folder: Path) -> AsyncIterator[Database]:
    if kind == "sqlite":
        yield Database(kind, f"sqlite:///{folder / f'{secrets.token_hex(4)}.db'}")
        return
    schema = "t_" + secrets.token_hex(6)
    await _admin(f"CREATE SCHEMA {schema}")
    try:
        yield Database(kind, f"{PG_URL}?search_path={schema}", schema)
    finally:
        await _admin(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


async def _admin(statement: str) -> None:
    # A connection per statement: a test may restart PostgreSQL in between.
    admin = await asyncpg.connect(PG_URL)
    try:
        await admin.execute(statement)
    finally:
        await admin.close()


def open_test_store(database: Database) -> Store:
    if database.kind == "sqlite":
        return SqliteStore.from_url(database.url)
    return PostgresStore(database.url, pool_size=4)


@asynccontextmanager
async def fresh_store(kind: str, folder: Path) -> AsyncIterator[tuple[Store, Database]]:
    async with fresh_database(kind, folder) as database:
        store = open_test_store(database)
        try:
            await store.migrate()
            yield store, database
        finally:
            await store.close()


async def seed_client_with_webhook(database: Database, pool: list[E164], webhook_url: str) -> str:
    """The client "acme" with these pool numbers and a webhook to webhook_url; its token."""
    store = open_test_store(database)
    try:
        await store.migrate()
        service = build_services(store, Settings())
        token = await service.accounts.add_user("acme", "client")
        await store.add_pool_numbers("acme", pool, service.now_ms())
        await service.webhooks.set_webhook("acme", webhook_url)
        return token
    finally:
        await store.close()
