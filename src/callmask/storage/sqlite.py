"""SQLite backend: the embedded default for one box.

Queries run on the event loop's thread: they take tens of microseconds, while a hop to a
worker thread (aiosqlite) costs ~150 us and cut set throughput by more than half
(../shared/FACTS.md). The WAL is checkpointed by a background thread so no request pays
for it. SQLite wants a single writing process; PostgreSQL serves beyond that.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from functools import partial
from typing import Any
from urllib.parse import quote

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

_BUSY_TIMEOUT_S = 5.0
_CHECKPOINT_EVERY_S = 0.1
_WAL_RESET_BYTES = 8 * 1024 * 1024


def path_from_url(url: str) -> str:
    """sqlite:///relative.db, sqlite:////absolute.db or sqlite:///:memory:."""
    if not url.startswith("sqlite:///"):
        raise ValueError("a SQLite URL looks like sqlite:///./callmask.db")
    return url.removeprefix("sqlite:///")


@contextmanager
def _translated() -> Iterator[None]:
    """sqlite3's errors as the storage interface names them."""
    try:
        yield
    except sqlite3.OperationalError as error:
        raise StorageUnavailable(str(error)) from error
    except sqlite3.Error as error:
        raise WriteFailed(str(error)) from error


class _Checkpointer(threading.Thread):
    """Moves the WAL into the database file off the request path, once a second."""

    def __init__(self, path: str, too_long: Callable[[], None] | None) -> None:
        super().__init__(name="callmask-sqlite-checkpoint", daemon=True)
        self._path = path
        self._too_long = too_long
        self._stop_event = threading.Event()

    def run(self) -> None:
        conn = sqlite3.connect(self._path, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
        try:
            page = int(conn.execute("PRAGMA page_size").fetchone()[0])
            while not self._stop_event.wait(_CHECKPOINT_EVERY_S):
                try:
                    _, wal_pages, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    # Under steady writes a passive checkpoint never gets to reset the WAL,
                    # which then grows without bound (400 MB in 8 s of set load). Resetting
                    # it from this thread makes the request connection wait in SQLite's busy
                    # handler, whose coarse sleeps stalled the event loop for 200-370 ms; so
                    # the reset is handed to the event loop, between two transactions.
                    if wal_pages * page > _WAL_RESET_BYTES:
                        if self._too_long is not None:
                            self._too_long()
                        else:
                            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                except sqlite3.Error:
                    continue
        finally:
            conn.close()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)


class SqliteTransaction:
    """A transaction's statements; also the executor for reads outside one (they never yield)."""

    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def _one(self, statement: str, args: tuple[object, ...]) -> Any:
        return self._conn.execute(statement, args).fetchone()

    async def fetch(self, statement: str, *args: object) -> list[Sequence[Any]]:
        with _translated():
            return self._conn.execute(statement, args).fetchall()

    async def execute(self, statement: str, *args: object) -> int:
        # sqlite3 reports rowcount only for statements that start with INSERT, UPDATE or
        # DELETE; a WITH ... DELETE would say -1.
        with _translated():
            before = self._conn.total_changes
            self._conn.execute(statement, args)
            return self._conn.total_changes - before

    async def release_expired(
        self, account_id: str, pair: tuple[E164, E164], now_ms: int
    ) -> list[Masking]:
        rows = self._conn.execute(sql.CLOSE_LAPSED_PAIR, (account_id, *pair, now_ms)).fetchall()
        self._conn.execute(sql.DROP_LAPSED_CLAIMS, (*pair, now_ms))
        return [Masking(*row) for row in rows]

    async def open_for_pair(
        self, account_id: str, pair: tuple[E164, E164], now_ms: int
    ) -> Masking | None:
        row = self._one(sql.OPEN_FOR_PAIR, (account_id, *pair, now_ms))
        return None if row is None else Masking(*row)

    async def previous_mask(self, account_id: str, pair: tuple[E164, E164]) -> E164 | None:
        row = self._one(sql.PREVIOUS_MASK, (account_id, *pair))
        return None if row is None else E164(row[0])

    async def is_free(self, mask: E164, pair: tuple[E164, E164], now_ms: int) -> bool:
        return self._one(sql.IS_CLAIMED, (mask, *pair, now_ms)) is None

    async def before_set(self, account_id: str, pair: tuple[E164, E164], now_ms: int) -> BeforeSet:
        lapsed = await self.release_expired(account_id, pair, now_ms)
        existing = await self.open_for_pair(account_id, pair, now_ms)
        previous = await self.previous_mask(account_id, pair)
        if previous is not None and not await self.is_free(previous, pair, now_ms):
            previous = None
        pooled = frozenset(E164(row[0]) for row in self._conn.execute(sql.POOLED, pair))
        return BeforeSet(lapsed, existing, previous, pooled)

    async def first_free(
        self,
        account_id: str,
        pair: tuple[E164, E164],
        now_ms: int,
        released_since_ms: int | None = None,
    ) -> E164 | None:
        row = self._one(*sql.first_free_args(account_id, pair, now_ms, released_since_ms))
        return None if row is None else E164(row[0])

    async def insert(self, masking: Masking) -> bool:
        lo, hi = sorted((masking.m1, masking.m2))
        m = masking
        try:
            announced = self._conn.execute(
                sql.INSERT_MASKING,
                (
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
                ),
            ).fetchone()[0]
            self._conn.executemany(
                sql.INSERT_CLAIM,
                [(m.mask, party, m.masking_id, m.expires_ms) for party in (m.m1, m.m2)],
            )
            return bool(announced)
        except sqlite3.IntegrityError as error:
            if "claims.mask" in str(error):
                raise ClaimTaken() from error
            if "maskings.account_id" in str(error):
                raise PairTaken() from error
            raise WriteFailed(str(error)) from error

    async def find_open(
        self,
        account_id: str,
        parties: tuple[E164, ...],
        mask: E164 | None,
        now_ms: int,
    ) -> list[Masking]:
        statement, args = sql.find_open_args(account_id, parties, mask, now_ms, self.dialect)
        return [Masking(*row) for row in self._conn.execute(statement, args).fetchall()]

    async def change_expiry(
        self, masking_ids: list[str], expires_ms: int, now_ms: int, reason: str
    ) -> None:
        if expires_ms <= now_ms:
            self._conn.executemany(
                sql.END_MASKING, [(now_ms, now_ms, reason, mid) for mid in masking_ids]
            )
            self._conn.executemany(sql.DROP_CLAIMS_OF, [(mid,) for mid in masking_ids])
        else:
            moves = [(expires_ms, mid) for mid in masking_ids]
            self._conn.executemany(sql.MOVE_MASKING_END, moves)
            self._conn.executemany(sql.MOVE_CLAIMS_END, moves)

    async def close_lapsed(self, now_ms: int, limit: int) -> list[Masking]:
        rows = self._conn.execute(sql.CLOSE_LAPSED_BATCH, (now_ms, limit, now_ms)).fetchall()
        return [Masking(*row) for row in rows]

    async def drop_lapsed(self, now_ms: int) -> None:
        self._conn.execute(sql.DROP_ALL_LAPSED_CLAIMS, (now_ms,))
        self._conn.execute(sql.DROP_LAPSED_SESSIONS, (now_ms,))

    async def forget_releases(self, before_ms: int, limit: int) -> int:
        return self._conn.execute(sql.FORGET_RELEASES, (before_ms, limit)).rowcount

    async def record_call_event(self, event: CallEvent, now_ms: int) -> CallChange | None:
        row = self._one(sql.UPSERT_CALL_RETURNING, sql.call_row(event, now_ms))
        return None if row is None else CallChange(CallRecord(*row[:-1]), bool(row[-1]))

    async def remove_pool_numbers(
        self, numbers: list[E164], now_ms: int, force: bool
    ) -> tuple[int, list[Masking]]:
        marks = ", ".join("?" * len(numbers))
        live = self._conn.execute(
            f"SELECT count(DISTINCT masking_id) FROM claims WHERE mask IN ({marks})"
            " AND expires_ms > ?",
            (*numbers, now_ms),
        ).fetchone()[0]
        if live and not force:
            raise WriteFailed(f"{live} live maskings use these numbers; use --force")
        ended = self._conn.execute(
            "UPDATE maskings SET ended_ms = ?, end_reason = 'number removed'"
            " WHERE ended_ms IS NULL AND masking_id IN (SELECT masking_id FROM claims"
            f" WHERE mask IN ({marks}) AND expires_ms > ?) RETURNING {sql.MASKING_COLUMNS}",
            (now_ms, *numbers, now_ms),
        ).fetchall()
        self._conn.execute(f"DELETE FROM claims WHERE mask IN ({marks})", numbers)
        removed = self._conn.execute(
            f"DELETE FROM pool_numbers WHERE number IN ({marks})", numbers
        ).rowcount
        return removed, [Masking(*row) for row in ended]

    async def has_webhook(self, account_id: str) -> bool:
        return await outbox.has_webhook(self, account_id)

    async def notify(self, notices: list[Notice]) -> int:
        return await outbox.notify(self, notices)


class SqliteStore:
    def __init__(self, path: str, synchronous: str = "NORMAL") -> None:
        self._path = path
        with _translated():
            self._conn = sqlite3.connect(
                path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
            self._conn.execute("PRAGMA foreign_keys = ON")
            if path != ":memory:":
                self._conn.execute("PRAGMA wal_autocheckpoint = 0")
                # The log is restarted, not truncated (truncating stalled writes ~10x longer),
                # so cap the file it leaves behind.
                self._conn.execute(f"PRAGMA journal_size_limit = {4 * _WAL_RESET_BYTES}")
        # Transactions span awaits in the service; the lock keeps two from sharing the
        # connection. Uncontended, it is taken without yielding to the event loop.
        self._lock = asyncio.Lock()
        self._batch: asyncio.Future[None] | None = None
        self._committer: asyncio.Task[None] | None = None
        self._checkpointer: _Checkpointer | None = None
        self._reset_pending = False
        self._closed = False
        if path != ":memory:":
            try:
                loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
            too_long = None if loop is None else partial(self._ask_reset, loop)
            self._checkpointer = _Checkpointer(path, too_long)
            self._checkpointer.start()

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
            self._conn.execute(f"PRAGMA busy_timeout = {int(_BUSY_TIMEOUT_S * 1000)}")

    @classmethod
    def from_url(cls, url: str, synchronous: str = "NORMAL") -> SqliteStore:
        return cls(path_from_url(url), synchronous)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqliteTransaction]:
        """One unit of work, committed together with the others that finish in the same turn.

        A COMMIT and the WAL pages it writes cost more than a whole set's statements, so the
        transactions that complete in one turn of the event loop share one COMMIT (group
        commit): each runs in its own SAVEPOINT inside the open batch, and its caller goes on
        only once the batch is committed, so nothing is acknowledged before it is durable.
        Reads outside a transaction on this connection see a batch's writes a turn early.
        """
        async with self._lock:
            with _translated():
                if not self._conn.in_transaction:
                    # IMMEDIATE takes the write lock up front, so a second process waits here
                    # rather than failing at its first write after reading stale claims.
                    self._conn.execute("BEGIN IMMEDIATE")
                self._conn.execute("SAVEPOINT unit")
                try:
                    yield SqliteTransaction(self._conn)
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
                failure: StorageError = (
                    StorageUnavailable(str(error))
                    if isinstance(error, sqlite3.OperationalError)
                    else WriteFailed(str(error))
                )
                batch.set_exception(failure)
                batch.exception()
            else:
                batch.set_result(None)

    async def _settle(self) -> None:
        """Wait for the open batch, if any, to be committed."""
        if self._batch is not None:
            with contextlib.suppress(StorageError):
                await asyncio.shield(self._batch)

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[sqlite3.Connection]:
        async with self.transaction():
            yield self._conn

    def _rows(self, statement: str, args: tuple[object, ...]) -> list[Any]:
        # What _translated() does, without a context manager on every read (route's path).
        try:
            return self._conn.execute(statement, args).fetchall()
        except sqlite3.OperationalError as error:
            raise StorageUnavailable(str(error)) from error
        except sqlite3.Error as error:
            raise WriteFailed(str(error)) from error

    async def route(self, mask: E164, caller: E164, now_ms: int) -> Masking | None:
        rows = self._rows(sql.ROUTE, (mask, caller, now_ms))
        return Masking(*rows[0]) if rows else None

    async def pool_owner(self, number: E164) -> str | None:
        rows = self._rows(sql.POOL_OWNER, (number,))
        return str(rows[0][0]) if rows else None

    async def last_masking(self, mask: E164, caller: E164) -> Masking | None:
        rows = self._rows(sql.LAST_MASKING, (mask, caller, mask, caller))
        return Masking(*rows[0]) if rows else None

    async def user(self, user_id: str) -> User | None:
        rows = self._rows(sql.USER, (user_id,))
        return _user(rows[0]) if rows else None

    async def user_by_token(self, token_hash: str) -> User | None:
        rows = self._rows(sql.USER_BY_TOKEN, (token_hash,))
        return _user(rows[0]) if rows else None

    async def session_user(self, ssid_hash: str, now_ms: int) -> User | None:
        rows = self._rows(sql.SESSION_USER, (ssid_hash, now_ms))
        return _user(rows[0]) if rows else None

    async def add_user(self, user: User, now_ms: int) -> None:
        async with self._writing() as conn:
            conn.execute(sql.INSERT_USER, (*_user_row(user), now_ms))

    async def set_token(self, user_id: str, token_hash: str) -> bool:
        async with self._writing() as conn:
            return conn.execute(sql.SET_TOKEN, (token_hash, user_id)).rowcount == 1

    async def set_permissions(self, user_id: str, permissions: frozenset[Permission]) -> bool:
        async with self._writing() as conn:
            return conn.execute(sql.SET_PERMISSIONS, (stored(permissions), user_id)).rowcount == 1

    async def add_session(self, ssid_hash: str, user_id: str, expires_ms: int) -> None:
        async with self._writing() as conn:
            conn.execute(sql.INSERT_SESSION, (ssid_hash, user_id, expires_ms))

    async def add_pool_numbers(self, account_id: str, numbers: list[E164], now_ms: int) -> int:
        async with self._writing() as conn:
            marks = ", ".join("?" * len(numbers))
            taken = conn.execute(
                f"SELECT count(*) FROM pool_numbers WHERE number IN ({marks}) AND account_id <> ?",
                (*numbers, account_id),
            ).fetchone()[0]
            if taken:
                raise WriteFailed(f"{taken} of these numbers belong to another account")
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO pool_numbers (number, account_id, added_ms)"
                " VALUES (?, ?, ?)",
                [(number, account_id, now_ms) for number in numbers],
            )
            return conn.total_changes - before

    async def pool(self, account_id: str | None, now_ms: int) -> list[PoolNumber]:
        where = " WHERE p.account_id = ?" if account_id is not None else ""
        args = (now_ms, account_id) if account_id is not None else (now_ms,)
        rows = self._rows(sql.POOL_LIST + where + " ORDER BY p.account_id, p.number", args)
        return [PoolNumber(E164(row[0]), row[1], row[2]) for row in rows]

    async def call(self, call_id: str) -> CallRecord | None:
        rows = self._rows(sql.CALL, (call_id,))
        return CallRecord(*rows[0]) if rows else None

    async def calls_page(self, query: CallQuery) -> list[CallRecord]:
        return await reports.calls_page(SqliteTransaction(self._conn), query)

    async def maskings_page(self, query: MaskingQuery) -> list[MaskingRecord]:
        return await reports.maskings_page(SqliteTransaction(self._conn), query)

    async def set_webhook(self, webhook: Webhook) -> None:
        async with self.transaction() as tx:
            await outbox.set_webhook(tx, webhook)

    async def webhook(self, account_id: str) -> Webhook | None:
        return await outbox.webhook(SqliteTransaction(self._conn), account_id)

    async def remove_webhook(self, account_id: str) -> bool:
        async with self.transaction() as tx:
            return await outbox.remove_webhook(tx, account_id)

    async def outbox_counts(self, account_id: str) -> dict[str, int]:
        return await outbox.outbox_counts(SqliteTransaction(self._conn), account_id)

    async def claim_notices(self, now_ms: int, lease_ms: int, limit: int) -> list[Claimed]:
        async with self.transaction() as tx:
            return await outbox.claim(tx, now_ms, lease_ms, limit)

    async def finish_attempt(self, attempt: Attempt) -> None:
        async with self.transaction() as tx:
            await outbox.finish(tx, attempt)

    async def deliveries(self, query: DeliveryQuery) -> list[Delivery]:
        return await outbox.deliveries(SqliteTransaction(self._conn), query)

    async def purge_step(self, cutoff_ms: int, limit: int) -> Purged:
        async with self.transaction() as tx:
            return await retention.purge_step(tx, cutoff_ms, limit)

    async def migrate(self) -> list[int]:
        await self._settle()
        async with self._lock:
            try:
                self._conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations"
                    " (version INTEGER PRIMARY KEY, name TEXT NOT NULL)"
                )
                applied = {
                    row[0] for row in self._conn.execute("SELECT version FROM schema_migrations")
                }
                done = []
                for migration in migrations("sqlite"):
                    if migration.version in applied:
                        continue
                    # executescript commits what came before; each migration is its own
                    # transaction together with its version row.
                    self._conn.executescript(
                        f"BEGIN IMMEDIATE;\n{migration.sql}\n"
                        "INSERT INTO schema_migrations (version, name)"
                        f" VALUES ({migration.version}, '{migration.name}');\nCOMMIT;"
                    )
                    done.append(migration.version)
                return done
            except sqlite3.Error as error:
                if self._conn.in_transaction:
                    self._conn.rollback()
                if isinstance(error, sqlite3.OperationalError):
                    raise StorageUnavailable(str(error)) from error
                raise StorageError(str(error)) from error

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
        return pending("sqlite", applied)

    async def pressure(self, now_ms: int) -> list[AccountPressure]:
        pools, claims = await self._apart(
            [(POOL_SIZES, ()), (LIVE_CLAIMS, (now_ms,))], _BUSY_TIMEOUT_S * 6
        )
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
        db = SqliteTransaction(self._conn)
        return await credentials.previous_token_user(db, user_id, token_hash, now_ms)

    async def previous_token_until(self, user_id: str) -> int | None:
        return await credentials.previous_until(SqliteTransaction(self._conn), user_id)

    async def sessions_of(self, user_id: str) -> list[Session]:
        return await credentials.sessions_of(SqliteTransaction(self._conn), user_id)

    async def revoke_session(self, ssid_hash: str) -> int:
        async with self.transaction() as tx:
            return await credentials.revoke_session(tx, ssid_hash)

    async def revoke_sessions_of(self, user_id: str) -> int:
        async with self.transaction() as tx:
            return await credentials.revoke_sessions_of(tx, user_id)


def _user_row(user: User) -> tuple[str, str, str, str, str]:
    return (user.user_id, user.account_id, user.role, user.token_hash, stored(user.permissions))


def _user(row: Sequence[Any]) -> User:
    return User(row[0], row[1], row[2], row[3], loaded(row[4]))
