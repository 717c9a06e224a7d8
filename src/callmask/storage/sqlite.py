"""SQLite backend: the embedded default for one box.

Queries run on the event loop's thread, where they take tens of microseconds; a hop to a
worker thread cost more than the query (docs/decisions.md, "SQLite on the event loop").
SQLite wants a single writing process; PostgreSQL serves beyond that.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager, nullcontext
from functools import partial
from typing import Any
from urllib.parse import quote

from callmask.domain.accounts import User
from callmask.domain.masking import Masking
from callmask.domain.numbers import E164
from callmask.domain.pool import AccountPressure
from callmask.domain.rules import AccountRules
from callmask.storage import pool, rules, sql, wal
from callmask.storage.base import (
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


def path_from_url(url: str) -> str:
    """sqlite:///relative.db, sqlite:////absolute.db or sqlite:///:memory:."""
    if not url.startswith("sqlite:///"):
        raise ValueError("a SQLite URL looks like sqlite:///./callmask.db")
    return url.removeprefix("sqlite:///")


def _failure(error: sqlite3.Error) -> StorageError:
    """sqlite3's error as the storage interface names it."""
    if isinstance(error, sqlite3.OperationalError):
        return StorageUnavailable(str(error))
    # The unique keys that a concurrent writer's masking trips: the claim, the open pair.
    if isinstance(error, sqlite3.IntegrityError) and "claims.mask" in str(error):
        return ClaimTaken()
    if isinstance(error, sqlite3.IntegrityError) and "maskings.account_id" in str(error):
        return PairTaken()
    return WriteFailed(str(error))


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as error:
        raise _failure(error) from error


class SqliteTransaction(SqlTransaction):
    """A transaction's statements; also the executor for reads outside one (they never yield)."""

    __slots__ = ("_conn",)
    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    async def fetch(self, statement: str, *args: object) -> list[Sequence[Any]]:
        try:
            return self._conn.execute(statement, args).fetchall()
        except sqlite3.Error as error:
            raise _failure(error) from error

    async def execute(self, statement: str, *args: object) -> int:
        # sqlite3 reports rowcount only for statements that start with INSERT, UPDATE or
        # DELETE; a WITH ... DELETE would say -1.
        try:
            before = self._conn.total_changes
            self._conn.execute(statement, args)
            return self._conn.total_changes - before
        except sqlite3.Error as error:
            raise _failure(error) from error

    async def execute_many(self, statement: str, rows: Sequence[Sequence[object]]) -> None:
        try:
            self._conn.executemany(statement, rows)
        except sqlite3.Error as error:
            raise _failure(error) from error

    async def _insert_numbers(self, account_id: str, numbers: list[E164], now_ms: int) -> int:
        try:
            before = self._conn.total_changes
            rows = [(number, account_id, now_ms) for number in numbers]
            self._conn.executemany(pool.INSERT_NUMBER, rows)
            return self._conn.total_changes - before
        except sqlite3.Error as error:
            raise _failure(error) from error


class SqliteStore(SqlStore[SqliteTransaction]):
    dialect = "sqlite"

    def __init__(self, path: str, synchronous: str = "NORMAL") -> None:
        self._path = path
        with _translated():
            self._conn = sqlite3.connect(
                path, timeout=wal.BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
            self._conn.execute("PRAGMA foreign_keys = ON")
            if path != ":memory:":
                self._conn.execute("PRAGMA wal_autocheckpoint = 0")
                # The log is restarted, not truncated (truncating stalled writes ~10x longer),
                # so cap the file it leaves behind.
                self._conn.execute(f"PRAGMA journal_size_limit = {4 * wal.RESET_BYTES}")
        self._executor = SqliteTransaction(self._conn)
        # Transactions span awaits in the service; the lock keeps two from sharing the
        # connection. Uncontended, it is taken without yielding to the event loop.
        self._lock = asyncio.Lock()
        self._batch: asyncio.Future[None] | None = None
        self._committer: asyncio.Task[None] | None = None
        self._checkpointer: wal.Checkpointer | None = None
        self._reset_pending = False
        self._closed = False
        if path != ":memory:":
            try:
                loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
            too_long = None if loop is None else partial(self._ask_reset, loop)
            self._checkpointer = wal.Checkpointer(path, too_long)
            self._checkpointer.start()

    @classmethod
    def from_url(cls, url: str, synchronous: str = "NORMAL") -> SqliteStore:
        return cls(path_from_url(url), synchronous)

    # -- the WAL (docs/decisions.md, "WAL checkpoints and restarts on the loop") ---------------

    def _ask_reset(self, loop: asyncio.AbstractEventLoop) -> None:
        """From the checkpoint thread: reset the WAL on the event loop when it next can."""
        if not self._reset_pending:
            self._reset_pending = True
            loop.call_soon_threadsafe(self._reset_wal)

    def _reset_wal(self) -> None:
        self._reset_pending = False
        if self._closed or self._conn.in_transaction or self._lock.locked():
            return
        try:
            # Most frames were just copied by the passive checkpoint, so this takes tens of ms
            # (a TRUNCATE took hundreds); if the checkpoint thread holds its lock right now,
            # give up at once and try next time.
            self._conn.execute("PRAGMA busy_timeout = 0")
            self._conn.execute("PRAGMA wal_checkpoint(RESTART)")
        except sqlite3.Error:
            pass
        finally:
            self._conn.execute(f"PRAGMA busy_timeout = {int(wal.BUSY_TIMEOUT_S * 1000)}")

    # -- group commit (docs/decisions.md, "Group commit on SQLite") --------------------------

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqliteTransaction]:
        """One unit of work, committed together with the others that finish in the same turn.

        A COMMIT and the WAL pages it writes cost more than a whole set's statements, so the
        transactions that complete in one turn of the event loop share one COMMIT: each runs
        in its own SAVEPOINT inside the open batch, and its caller goes on only once the batch
        is committed, so nothing is acknowledged before it is durable. Reads outside a
        transaction on this connection see a batch's writes a turn early.
        """
        async with self._lock:
            with _translated():
                if not self._conn.in_transaction:
                    # IMMEDIATE takes the write lock up front, so a second process waits here
                    # rather than failing at its first write after reading stale claims.
                    self._conn.execute("BEGIN IMMEDIATE")
                self._conn.execute("SAVEPOINT unit")
                try:
                    yield self._executor
                    self._conn.execute("RELEASE unit")
                except BaseException:
                    self._undo_unit()
                    raise
            batch = self._join_batch()
        # Shielded: a client that goes away must not cancel the commit of everyone's batch.
        await asyncio.shield(batch)

    def _undo_unit(self) -> None:
        """Roll back the failed unit; if SQLite already dropped the whole batch, fail it."""
        if self._conn.in_transaction:
            try:
                self._conn.execute("ROLLBACK TO unit")
                self._conn.execute("RELEASE unit")
                return
            except sqlite3.Error:
                self._conn.rollback()
        if self._batch is not None:
            lost, self._batch = self._batch, None
            lost.set_exception(StorageUnavailable("the transaction batch was rolled back"))
            lost.exception()  # retrieved: a batch nobody else waits on must not warn

    def _join_batch(self) -> asyncio.Future[None]:
        if self._batch is None:
            loop = asyncio.get_running_loop()
            self._batch = loop.create_future()
            # Runs after the tasks already ready in this turn, which join the batch first.
            self._committer = loop.create_task(self._commit_batch())
        return self._batch

    async def _commit_batch(self) -> None:
        async with self._lock:
            batch, self._batch = self._batch, None
            if batch is None:
                return
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error as error:
                if self._conn.in_transaction:
                    self._conn.rollback()
                batch.set_exception(_failure(error))
                batch.exception()
            else:
                batch.set_result(None)

    async def _settle(self) -> None:
        """Wait for the open batch, if any, to be committed."""
        if self._batch is not None:
            with contextlib.suppress(StorageError):
                await asyncio.shield(self._batch)

    def _reads(self) -> nullcontext[SqliteTransaction]:
        return nullcontext(self._executor)

    def _writes(self) -> contextlib.AbstractAsyncContextManager[SqliteTransaction]:
        return self.transaction()

    # -- the hot reads, straight on the connection -------------------------------------------

    def _rows(self, statement: str, args: tuple[object, ...]) -> list[Any]:
        # What _translated() does, without a context manager on every read (route's path).
        try:
            return self._conn.execute(statement, args).fetchall()
        except sqlite3.Error as error:
            raise _failure(error) from error

    async def route(
        self, mask: E164, caller: E164, now_ms: int
    ) -> tuple[Masking, int | None, bool | None] | None:
        rows = self._rows(sql.ROUTE, (mask, caller, now_ms))
        return sql.routed(rows[0]) if rows else None

    async def pool_owner(self, number: E164) -> str | None:
        rows = self._rows(sql.POOL_OWNER, (number,))
        return str(rows[0][0]) if rows else None

    async def owner_rules(self, number: E164) -> AccountRules | None:
        rows = self._rows(sql.OWNER_RULES, (number,))
        return rules.account_rules(rows[0]) if rows else None

    async def last_masking(self, mask: E164, caller: E164) -> Masking | None:
        rows = self._rows(sql.LAST_MASKING, (mask, caller, mask, caller))
        return Masking(*rows[0]) if rows else None

    async def user(self, user_id: str) -> User | None:
        rows = self._rows(sql.USER, (user_id,))
        return sql.user(rows[0]) if rows else None

    async def user_by_token(self, token_hash: str) -> User | None:
        rows = self._rows(sql.USER_BY_TOKEN, (token_hash,))
        return sql.user(rows[0]) if rows else None

    async def session_user(self, ssid_hash: str, now_ms: int) -> User | None:
        rows = self._rows(sql.SESSION_USER, (ssid_hash, now_ms, now_ms))
        return sql.user(rows[0]) if rows else None

    # -- migrations and closing ---------------------------------------------------------------

    @asynccontextmanager
    async def _migrating(self) -> AsyncIterator[SqliteTransaction]:
        await self._settle()
        async with self._lock:
            try:
                yield self._executor
            except StorageError:
                if self._conn.in_transaction:
                    self._conn.rollback()
                raise

    async def _apply(self, db: SqliteTransaction, migration: Migration) -> None:
        # executescript commits what came before and takes no parameters; each migration is
        # its own transaction together with its version row.
        with _translated():
            self._conn.executescript(
                f"BEGIN IMMEDIATE;\n{migration.sql}\n"
                "INSERT INTO schema_migrations (version, name)"
                f" VALUES ({migration.version}, '{migration.name}');\nCOMMIT;"
            )

    async def close(self) -> None:
        await self._settle()
        # A reset the checkpoint thread queued on the event loop may run after this.
        self._closed = True
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self._conn.close()

    # -- health and pool pressure, for /readyz and /metrics (storage/pressure.py) -----------

    async def _apart(
        self, statements: list[tuple[str, tuple[object, ...]]], timeout_s: float
    ) -> list[list[Any]]:
        """Reads on a connection of their own, in a thread.

        A new connection reaches the file as a new process would (the open one keeps working
        on a deleted or unreadable file), sees only committed data, and a long aggregate
        does not stall the event loop (sqlite3 lets go of the GIL while SQLite works).
        """
        if self._path == ":memory:":
            return [self._rows(statement, args) for statement, args in statements]

        def read() -> list[list[Any]]:
            uri = f"file:{quote(self._path)}?mode=ro"
            conn = sqlite3.connect(uri, uri=True, timeout=timeout_s, check_same_thread=False)
            try:
                return [conn.execute(statement, args).fetchall() for statement, args in statements]
            finally:
                conn.close()

        try:
            return await asyncio.wait_for(asyncio.to_thread(read), timeout_s)
        except (sqlite3.Error, OSError, TimeoutError) as error:
            raise StorageUnavailable(f"{type(error).__name__}: {error}") from error

    async def pending_migrations(self, timeout_s: float) -> list[int]:
        [applied] = await self._apart([(APPLIED, ())], timeout_s)
        return pending(self.dialect, applied)

    async def pressure(self, now_ms: int) -> list[AccountPressure]:
        pools, claims, waiting = await self._apart(
            [(POOL_SIZES, ()), (LIVE_CLAIMS, (now_ms,)), (WEBHOOK_PENDING, ())],
            wal.BUSY_TIMEOUT_S * 6,
        )
        return combine(pools, claims, waiting)
