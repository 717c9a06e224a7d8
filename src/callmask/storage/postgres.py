"""PostgreSQL backend: many processes on many hosts sharing one database.

The invariant and the one-open-masking-per-pair rule are unique keys, so concurrent
writers anywhere are serialised by PostgreSQL itself: the loser of a race gets a unique
violation, its transaction rolls back, and the service allocates again. Every wait is
bounded (connect, acquire, each command), so an unreachable database answers 1010
quickly instead of hanging, and the pool reconnects by itself when it returns.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import cache
from typing import Any

import asyncpg

from callmask.domain.masking import Masking
from callmask.domain.numbers import E164
from callmask.domain.pool import AccountPressure
from callmask.storage import pool, sql
from callmask.storage.base import (
    BeforeSet,
    ClaimTaken,
    PairTaken,
    StorageError,
    StorageUnavailable,
    WriteFailed,
)
from callmask.storage.migrations import APPLIED, Migration
from callmask.storage.pressure import LIVE_CLAIMS, POOL_SIZES, WEBHOOK_PENDING, combine, pending
from callmask.storage.store import SqlStore
from callmask.storage.transaction import SqlTransaction

_PRESSURE_TIMEOUT_S = 30.0
# Any constant; held while migrating so two starting processes do not migrate at once.
_MIGRATION_LOCK = 0x63616C6C6D61736B
_UNREACHABLE = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.OperatorInterventionError,
    asyncpg.InsufficientResourcesError,
    OSError,
    TimeoutError,
    asyncio.TimeoutError,
)
_FAILURES = (asyncpg.PostgresError, *_UNREACHABLE)


@cache
def _pg(statement: str) -> str:
    return sql.numbered(statement)


def _failure(error: BaseException) -> StorageError:
    """asyncpg's error as the storage interface names it."""
    if isinstance(error, asyncpg.UniqueViolationError):
        if error.constraint_name == "claims_pkey":
            return ClaimTaken()
        if error.constraint_name == "maskings_open_pair":
            return PairTaken()
        return WriteFailed(type(error).__name__)
    if isinstance(error, _UNREACHABLE):
        return StorageUnavailable(type(error).__name__)
    return WriteFailed(type(error).__name__)


@asynccontextmanager
async def _translated() -> AsyncIterator[None]:
    try:
        yield
    except _FAILURES as error:
        raise _failure(error) from error


async def _reset(conn: asyncpg.Connection) -> None:
    # asyncpg's default reset costs a round trip on every release (docs/decisions.md,
    # "asyncpg pool reset"); our transactions always end, so only a cancelled one needs undoing.
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


def _changed(status: str) -> int:
    """Rows a command changed, from its status tag ("UPDATE 3", "INSERT 0 1")."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class PostgresTransaction(SqlTransaction):
    """A transaction's statements on its connection; also the executor for reads on one."""

    __slots__ = ("conn",)
    dialect = "postgresql"

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def fetch(self, statement: str, *args: object) -> list[Sequence[Any]]:
        try:
            return list(await self.conn.fetch(_pg(statement), *args))
        except _FAILURES as error:
            raise _failure(error) from error

    async def execute(self, statement: str, *args: object) -> int:
        try:
            return _changed(await self.conn.execute(_pg(statement), *args))
        except _FAILURES as error:
            raise _failure(error) from error

    async def execute_many(self, statement: str, rows: Sequence[Sequence[object]]) -> None:
        try:
            await self.conn.executemany(_pg(statement), rows)
        except _FAILURES as error:
            raise _failure(error) from error

    async def _insert_numbers(self, account_id: str, numbers: list[E164], now_ms: int) -> int:
        return await self.execute(pool.INSERT_NUMBERS_PG, numbers, account_id, now_ms)

    async def before_set(self, account_id: str, pair: tuple[E164, E164], now_ms: int) -> BeforeSet:
        rows = await self.fetch(sql.BEFORE_SET_PG, account_id, *pair, now_ms)
        return BeforeSet(
            lapsed=[Masking(*row[1:]) for row in rows if row[0] == 0],
            existing=next((Masking(*row[1:]) for row in rows if row[0] == 1), None),
            sticky=next((E164(row[5]) for row in rows if row[0] == 2), None),
            pooled=frozenset(E164(row[5]) for row in rows if row[0] == 3),
        )

    async def insert(self, masking: Masking) -> bool:
        rows = await self.fetch(sql.INSERT_MASKING_PG, *sql.masking_row(masking))
        return bool(rows[0][0])


class PostgresStore(SqlStore[PostgresTransaction]):
    dialect = "postgresql"

    def __init__(self, dsn: str, pool_size: int = 10, timeout_s: float = 3.0) -> None:
        self._dsn = dsn
        self._pool_size = pool_size
        self._timeout_s = timeout_s
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()

    async def _ready(self) -> asyncpg.Pool:
        if self._pool is not None:
            return self._pool
        async with self._opening:
            if self._pool is None:
                # min_size=0: start-up never waits on the database; connections open on demand.
                self._pool = await asyncpg.create_pool(
                    self._dsn,
                    min_size=0,
                    max_size=self._pool_size,
                    timeout=self._timeout_s,
                    command_timeout=self._timeout_s,
                    reset=_reset,
                )
            return self._pool

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[PostgresTransaction]:
        async with _translated():
            connections = await self._ready()
            async with connections.acquire(timeout=self._timeout_s) as conn:
                yield PostgresTransaction(conn)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresTransaction]:
        async with self._connection() as db, db.conn.transaction():
            yield db

    def _reads(self) -> AbstractAsyncContextManager[PostgresTransaction]:
        return self._connection()

    def _writes(self) -> AbstractAsyncContextManager[PostgresTransaction]:
        return self._connection()

    @asynccontextmanager
    async def _report_reads(self) -> AsyncIterator[PostgresTransaction]:
        """A read-only transaction planned for its actual parameters.

        Report statements differ in selectivity by orders of magnitude between one party and a
        whole busy account; a generic plan chosen for one would be wrong for the other, and
        planning costs little next to them.
        """
        async with self._connection() as db, db.conn.transaction(readonly=True):
            await db.execute("SET LOCAL plan_cache_mode = force_custom_plan")
            yield db

    @asynccontextmanager
    async def _migrating(self) -> AsyncIterator[PostgresTransaction]:
        # Every pending migration in one transaction, which holds the lock until it ends.
        async with self.transaction() as db:
            await db.execute("SELECT pg_advisory_xact_lock(?)", _MIGRATION_LOCK)
            yield db

    async def _apply(self, db: PostgresTransaction, migration: Migration) -> None:
        await db.conn.execute(migration.sql)  # a script, run as is: no placeholders to number
        await db.execute(
            "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
            migration.version,
            migration.name,
        )

    async def close(self) -> None:
        if self._pool is not None:
            try:
                await asyncio.wait_for(self._pool.close(), self._timeout_s)
            except (TimeoutError, StorageError):
                self._pool.terminate()

    # -- health and pool pressure, for /readyz and /metrics (storage/pressure.py) -----------

    async def pending_migrations(self, timeout_s: float) -> list[int]:
        async def read() -> list[Any]:
            async with self._connection() as db:
                return list(await db.conn.fetch(APPLIED, timeout=timeout_s))

        try:
            applied = await asyncio.wait_for(read(), timeout_s)
        except TimeoutError as error:
            raise StorageUnavailable("TimeoutError") from error
        return pending(self.dialect, applied)

    async def pressure(self, now_ms: int) -> list[AccountPressure]:
        # A pass over every live claim: ~2 s at a million maskings, longer than the
        # statement timeout the request path keeps; it runs once per metrics cache period.
        async with self._connection() as db, db.conn.transaction(readonly=True):
            pools = await db.conn.fetch(POOL_SIZES, timeout=_PRESSURE_TIMEOUT_S)
            claims = await db.conn.fetch(_pg(LIVE_CLAIMS), now_ms, timeout=_PRESSURE_TIMEOUT_S)
            waiting = await db.conn.fetch(WEBHOOK_PENDING, timeout=_PRESSURE_TIMEOUT_S)
        return combine(pools, claims, waiting)
