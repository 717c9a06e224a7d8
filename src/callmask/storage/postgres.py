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
from contextlib import asynccontextmanager
from functools import cache
from typing import Any

import asyncpg

from callmask.domain.accounts import Session, User
from callmask.domain.calls import CallEvent, CallRecord
from callmask.domain.masking import Masking, MaskingRecord
from callmask.domain.numbers import E164
from callmask.domain.permissions import Permission, loaded, stored
from callmask.domain.pool import AccountPressure, PoolNumber
from callmask.domain.reports import CallQuery, MaskingQuery
from callmask.domain.retention import Purged
from callmask.domain.webhooks import Attempt, Claimed, Delivery, DeliveryQuery, Notice, Webhook
from callmask.storage import credentials, outbox, reports, retention, sql
from callmask.storage.base import (
    BeforeSet,
    CallChange,
    ClaimTaken,
    PairTaken,
    StorageError,
    StorageUnavailable,
    WriteFailed,
)
from callmask.storage.migrations import migrations
from callmask.storage.pressure import APPLIED, LIVE_CLAIMS, POOL_SIZES, combine, pending

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


@cache
def _pg(statement: str) -> str:
    return sql.numbered(statement)


@asynccontextmanager
async def _translated() -> AsyncIterator[None]:
    """asyncpg's errors as the storage interface names them."""
    try:
        yield
    except asyncpg.UniqueViolationError as error:
        if error.constraint_name == "claims_pkey":
            raise ClaimTaken() from error
        if error.constraint_name == "maskings_open_pair":
            raise PairTaken() from error
        raise WriteFailed(type(error).__name__) from error
    except _UNREACHABLE as error:
        raise StorageUnavailable(type(error).__name__) from error
    except asyncpg.PostgresError as error:
        raise WriteFailed(type(error).__name__) from error


async def _reset(conn: asyncpg.Connection) -> None:
    # asyncpg's default reset costs a round trip on every release (1.4-1.6x on point reads,
    # ../shared/FACTS.md); our transactions always end, so only a cancelled one needs undoing.
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


def _changed(status: str) -> int:
    """Rows a command changed, from its status tag ("UPDATE 3", "INSERT 0 1")."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class PostgresTransaction:
    """A transaction's statements on its connection; also the executor for reads on one."""

    dialect = "postgresql"

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def _one(self, statement: str, *args: object) -> Any:
        return await self._conn.fetchrow(_pg(statement), *args)

    async def fetch(self, statement: str, *args: object) -> list[Sequence[Any]]:
        async with _translated():
            return list(await self._conn.fetch(_pg(statement), *args))

    async def execute(self, statement: str, *args: object) -> int:
        async with _translated():
            return _changed(await self._conn.execute(_pg(statement), *args))

    async def release_expired(
        self, account_id: str, pair: tuple[E164, E164], now_ms: int
    ) -> list[Masking]:
        rows = await self._conn.fetch(_pg(sql.CLOSE_LAPSED_PAIR), account_id, *pair, now_ms)
        await self._conn.execute(_pg(sql.DROP_LAPSED_CLAIMS), *pair, now_ms)
        return [Masking(*row) for row in rows]

    async def open_for_pair(
        self, account_id: str, pair: tuple[E164, E164], now_ms: int
    ) -> Masking | None:
        row = await self._one(sql.OPEN_FOR_PAIR, account_id, *pair, now_ms)
        return None if row is None else Masking(*row)

    async def previous_mask(self, account_id: str, pair: tuple[E164, E164]) -> E164 | None:
        row = await self._one(sql.PREVIOUS_MASK, account_id, *pair)
        return None if row is None else E164(row[0])

    async def is_free(self, mask: E164, pair: tuple[E164, E164], now_ms: int) -> bool:
        return await self._one(sql.IS_CLAIMED, mask, *pair, now_ms) is None

    async def before_set(self, account_id: str, pair: tuple[E164, E164], now_ms: int) -> BeforeSet:
        rows = await self._conn.fetch(sql.BEFORE_SET_PG, account_id, *pair, now_ms)
        return BeforeSet(
            lapsed=[Masking(*row[1:]) for row in rows if row[0] == 0],
            existing=next((Masking(*row[1:]) for row in rows if row[0] == 1), None),
            sticky=next((E164(row[5]) for row in rows if row[0] == 2), None),
            pooled=frozenset(E164(row[5]) for row in rows if row[0] == 3),
        )

    async def first_free(
        self,
        account_id: str,
        pair: tuple[E164, E164],
        now_ms: int,
        released_since_ms: int | None = None,
    ) -> E164 | None:
        statement, args = sql.first_free_args(account_id, pair, now_ms, released_since_ms)
        row = await self._one(statement, *args)
        return None if row is None else E164(row[0])

    async def insert(self, masking: Masking) -> bool:
        lo, hi = sorted((masking.m1, masking.m2))
        m = masking
        async with _translated():
            announced = await self._conn.fetchval(
                sql.INSERT_MASKING_PG,
                m.masking_id,
                m.account_id,
                m.m1,
                m.m2,
                lo,
                hi,
                m.mask,
                m.event_id,
                m.created_ms,
                m.expires_ms,
            )
        return bool(announced)

    async def find_open(
        self,
        account_id: str,
        parties: tuple[E164, ...],
        mask: E164 | None,
        now_ms: int,
    ) -> list[Masking]:
        statement, args = sql.find_open_args(account_id, parties, mask, now_ms, self.dialect)
        rows = await self._conn.fetch(_pg(statement), *args)
        return [Masking(*row) for row in rows]

    async def change_expiry(
        self, masking_ids: list[str], expires_ms: int, now_ms: int, reason: str
    ) -> None:
        if expires_ms <= now_ms:
            await self._conn.executemany(
                _pg(sql.END_MASKING), [(now_ms, now_ms, reason, mid) for mid in masking_ids]
            )
            await self._conn.executemany(_pg(sql.DROP_CLAIMS_OF), [(mid,) for mid in masking_ids])
        else:
            moves = [(expires_ms, mid) for mid in masking_ids]
            await self._conn.executemany(_pg(sql.MOVE_MASKING_END), moves)
            await self._conn.executemany(_pg(sql.MOVE_CLAIMS_END), moves)

    async def close_lapsed(self, now_ms: int, limit: int) -> list[Masking]:
        rows = await self._conn.fetch(_pg(sql.CLOSE_LAPSED_BATCH), now_ms, limit, now_ms)
        return [Masking(*row) for row in rows]

    async def drop_lapsed(self, now_ms: int) -> None:
        await self._conn.execute(_pg(sql.DROP_ALL_LAPSED_CLAIMS), now_ms)
        await self._conn.execute(_pg(sql.DROP_LAPSED_SESSIONS), now_ms)

    async def forget_releases(self, before_ms: int, limit: int) -> int:
        status = await self._conn.execute(_pg(sql.FORGET_RELEASES), before_ms, limit)
        return int(status.split()[-1])

    async def record_call_event(self, event: CallEvent, now_ms: int) -> CallChange | None:
        row = await self._one(sql.UPSERT_CALL_RETURNING, *sql.call_row(event, now_ms))
        return None if row is None else CallChange(CallRecord(*row[:-1]), bool(row[-1]))

    async def remove_pool_numbers(
        self, numbers: list[E164], now_ms: int, force: bool
    ) -> tuple[int, list[Masking]]:
        live = await self._conn.fetchval(
            "SELECT count(DISTINCT masking_id) FROM claims WHERE mask = ANY($1::text[])"
            " AND expires_ms > $2",
            numbers,
            now_ms,
        )
        if live and not force:
            raise WriteFailed(f"{live} live maskings use these numbers; use --force")
        ended = await self._conn.fetch(
            "UPDATE maskings SET ended_ms = $1, end_reason = 'number removed'"
            " WHERE ended_ms IS NULL AND masking_id IN (SELECT masking_id FROM claims"
            f" WHERE mask = ANY($2::text[]) AND expires_ms > $1) RETURNING {sql.MASKING_COLUMNS}",
            now_ms,
            numbers,
        )
        await self._conn.execute("DELETE FROM claims WHERE mask = ANY($1::text[])", numbers)
        status = await self._conn.execute(
            "DELETE FROM pool_numbers WHERE number = ANY($1::text[])", numbers
        )
        return _changed(status), [Masking(*row) for row in ended]

    async def has_webhook(self, account_id: str) -> bool:
        return await outbox.has_webhook(self, account_id)

    async def notify(self, notices: list[Notice]) -> int:
        return await outbox.notify(self, notices)


class PostgresStore:
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
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        async with _translated():
            pool = await self._ready()
            async with pool.acquire(timeout=self._timeout_s) as conn:
                yield conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresTransaction]:
        async with self._connection() as conn, conn.transaction():
            yield PostgresTransaction(conn)

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[PostgresTransaction]:
        """A read-only transaction planned for its actual parameters.

        Report statements differ in selectivity by orders of magnitude between one party and a
        whole busy account; a generic plan chosen for one would be wrong for the other, and
        planning costs little next to them.
        """
        async with self._connection() as conn, conn.transaction(readonly=True):
            await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
            yield PostgresTransaction(conn)

    async def _row(self, statement: str, *args: object) -> Any:
        async with self._connection() as conn:
            return await conn.fetchrow(_pg(statement), *args)

    async def route(self, mask: E164, caller: E164, now_ms: int) -> Masking | None:
        row = await self._row(sql.ROUTE, mask, caller, now_ms)
        return None if row is None else Masking(*row)

    async def pool_owner(self, number: E164) -> str | None:
        row = await self._row(sql.POOL_OWNER, number)
        return None if row is None else str(row[0])

    async def last_masking(self, mask: E164, caller: E164) -> Masking | None:
        row = await self._row(sql.LAST_MASKING, mask, caller, mask, caller)
        return None if row is None else Masking(*row)

    async def user(self, user_id: str) -> User | None:
        row = await self._row(sql.USER, user_id)
        return None if row is None else _user(row)

    async def user_by_token(self, token_hash: str) -> User | None:
        row = await self._row(sql.USER_BY_TOKEN, token_hash)
        return None if row is None else _user(row)

    async def session_user(self, ssid_hash: str, now_ms: int) -> User | None:
        row = await self._row(sql.SESSION_USER, ssid_hash, now_ms)
        return None if row is None else _user(row)

    async def add_user(self, user: User, now_ms: int) -> None:
        async with self._connection() as conn:
            await conn.execute(
                _pg(sql.INSERT_USER),
                user.user_id,
                user.account_id,
                user.role,
                user.token_hash,
                stored(user.permissions),
                now_ms,
            )

    async def set_token(self, user_id: str, token_hash: str) -> bool:
        async with self._connection() as conn:
            status = await conn.execute(_pg(sql.SET_TOKEN), token_hash, user_id)
            return bool(status == "UPDATE 1")

    async def set_permissions(self, user_id: str, permissions: frozenset[Permission]) -> bool:
        async with self._connection() as conn:
            status = await conn.execute(_pg(sql.SET_PERMISSIONS), stored(permissions), user_id)
            return bool(status == "UPDATE 1")

    async def add_session(self, ssid_hash: str, user_id: str, expires_ms: int) -> None:
        async with self._connection() as conn:
            await conn.execute(_pg(sql.INSERT_SESSION), ssid_hash, user_id, expires_ms)

    async def add_pool_numbers(self, account_id: str, numbers: list[E164], now_ms: int) -> int:
        async with self._connection() as conn, conn.transaction():
            taken = await conn.fetchval(
                "SELECT count(*) FROM pool_numbers WHERE number = ANY($1::text[])"
                " AND account_id <> $2",
                numbers,
                account_id,
            )
            if taken:
                raise WriteFailed(f"{taken} of these numbers belong to another account")
            status = await conn.execute(
                "INSERT INTO pool_numbers (number, account_id, added_ms)"
                " SELECT unnest($1::text[]), $2, $3 ON CONFLICT DO NOTHING",
                numbers,
                account_id,
                now_ms,
            )
            return int(status.rsplit(" ", 1)[1])

    async def pool(self, account_id: str | None, now_ms: int) -> list[PoolNumber]:
        where = " WHERE p.account_id = $2" if account_id is not None else ""
        args = (now_ms, account_id) if account_id is not None else (now_ms,)
        async with self._connection() as conn:
            rows = await conn.fetch(
                _pg(sql.POOL_LIST) + where + " ORDER BY p.account_id, p.number", *args
            )
        return [PoolNumber(E164(row[0]), row[1], row[2]) for row in rows]

    async def call(self, call_id: str) -> CallRecord | None:
        row = await self._row(sql.CALL, call_id)
        return None if row is None else CallRecord(*row)

    async def calls_page(self, query: CallQuery) -> list[CallRecord]:
        async with self._reading() as db:
            return await reports.calls_page(db, query)

    async def maskings_page(self, query: MaskingQuery) -> list[MaskingRecord]:
        async with self._reading() as db:
            return await reports.maskings_page(db, query)

    async def set_webhook(self, webhook: Webhook) -> None:
        async with self.transaction() as tx:
            await outbox.set_webhook(tx, webhook)

    async def webhook(self, account_id: str) -> Webhook | None:
        async with self._connection() as conn:
            return await outbox.webhook(PostgresTransaction(conn), account_id)

    async def remove_webhook(self, account_id: str) -> bool:
        async with self.transaction() as tx:
            return await outbox.remove_webhook(tx, account_id)

    async def outbox_counts(self, account_id: str) -> dict[str, int]:
        async with self._connection() as conn:
            return await outbox.outbox_counts(PostgresTransaction(conn), account_id)

    async def claim_notices(self, now_ms: int, lease_ms: int, limit: int) -> list[Claimed]:
        async with self.transaction() as tx:
            return await outbox.claim(tx, now_ms, lease_ms, limit)

    async def finish_attempt(self, attempt: Attempt) -> None:
        async with self.transaction() as tx:
            await outbox.finish(tx, attempt)

    async def deliveries(self, query: DeliveryQuery) -> list[Delivery]:
        async with self._reading() as db:
            return await outbox.deliveries(db, query)

    async def purge_step(self, cutoff_ms: int, limit: int) -> Purged:
        async with self.transaction() as tx:
            return await retention.purge_step(tx, cutoff_ms, limit)

    async def migrate(self) -> list[int]:
        async with self._connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations"
                " (version INTEGER PRIMARY KEY, name TEXT NOT NULL)"
            )
            applied = {row[0] for row in await conn.fetch("SELECT version FROM schema_migrations")}
            done = []
            for migration in migrations("postgresql"):
                if migration.version in applied:
                    continue
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    migration.version,
                    migration.name,
                )
                done.append(migration.version)
            return done

    async def close(self) -> None:
        if self._pool is not None:
            try:
                await asyncio.wait_for(self._pool.close(), self._timeout_s)
            except (TimeoutError, StorageError):
                self._pool.terminate()

    # -- health and pool pressure, for /readyz and /metrics (storage/pressure.py) -----------

    async def pending_migrations(self, timeout_s: float) -> list[int]:
        async def read() -> list[Any]:
            async with self._connection() as conn:
                return list(await conn.fetch(APPLIED, timeout=timeout_s))

        try:
            applied = await asyncio.wait_for(read(), timeout_s)
        except TimeoutError as error:
            raise StorageUnavailable("TimeoutError") from error
        return pending("postgresql", applied)

    async def pressure(self, now_ms: int) -> list[AccountPressure]:
        # A pass over every live claim: ~2 s at a million maskings, longer than the
        # statement timeout the request path keeps; it runs once per metrics cache period.
        async with self._connection() as conn, conn.transaction(readonly=True):
            pools = await conn.fetch(POOL_SIZES, timeout=_PRESSURE_TIMEOUT_S)
            claims = await conn.fetch(_pg(LIVE_CLAIMS), now_ms, timeout=_PRESSURE_TIMEOUT_S)
        return combine(pools, claims)

    # -- credentials beyond the login path (storage/credentials.py) ---------------------------

    async def rotate_token(
        self, user_id: str, token_hash: str, previous_until_ms: int | None
    ) -> bool:
        async with self.transaction() as tx:
            return await credentials.rotate_token(tx, user_id, token_hash, previous_until_ms)

    async def previous_token_user(
        self, user_id: str | None, token_hash: str, now_ms: int
    ) -> tuple[User, int] | None:
        async with self._connection() as conn:
            db = PostgresTransaction(conn)
            return await credentials.previous_token_user(db, user_id, token_hash, now_ms)

    async def previous_token_until(self, user_id: str) -> int | None:
        async with self._connection() as conn:
            return await credentials.previous_until(PostgresTransaction(conn), user_id)

    async def sessions_of(self, user_id: str) -> list[Session]:
        async with self._connection() as conn:
            return await credentials.sessions_of(PostgresTransaction(conn), user_id)

    async def revoke_session(self, ssid_hash: str) -> int:
        async with self.transaction() as tx:
            return await credentials.revoke_session(tx, ssid_hash)

    async def revoke_sessions_of(self, user_id: str) -> int:
        async with self.transaction() as tx:
            return await credentials.revoke_sessions_of(tx, user_id)


def _user(row: Sequence[Any]) -> User:
    return User(row[0], row[1], row[2], row[3], loaded(row[4]))
