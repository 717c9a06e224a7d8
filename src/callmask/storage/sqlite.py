"""SQLite backend: the embedded default for one box.

Queries run on the event loop's thread: they take tens of microseconds, while a hop to a
worker thread (aiosqlite) costs ~150 us and cut set throughput by more than half
(../shared/FACTS.md). The WAL is checkpointed by a background thread so no request pays
for it. SQLite wants a single writing process; see docs for PostgreSQL beyond that.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from callmask.domain.masking import Masking
from callmask.domain.numbers import E164
from callmask.storage.base import (
    ClaimTaken,
    PairTaken,
    PoolNumber,
    StorageError,
    StorageUnavailable,
    User,
    WriteFailed,
)
from callmask.storage.migrations import migrations

_MASKING_COLUMNS = "masking_id, account_id, m1, m2, mask, event_id, created_ms, expires_ms"
_BUSY_TIMEOUT_S = 5.0
_CHECKPOINT_EVERY_S = 1.0


def _masking(row: Any) -> Masking:
    return Masking(*row)


def path_from_url(url: str) -> str:
    """sqlite:///relative.db, sqlite:////absolute.db or sqlite:///:memory:."""
    if not url.startswith("sqlite:///"):
        raise ValueError("a SQLite URL looks like sqlite:///./callmask.db")
    return url.removeprefix("sqlite:///")


class _Checkpointer(threading.Thread):
    """Moves the WAL into the database file off the request path, once a second."""

    def __init__(self, path: str) -> None:
        super().__init__(name="callmask-sqlite-checkpoint", daemon=True)
        self._path = path
        self._stop_event = threading.Event()

    def run(self) -> None:
        conn = sqlite3.connect(self._path, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
        try:
            while not self._stop_event.wait(_CHECKPOINT_EVERY_S):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error:
                    continue
        finally:
            conn.close()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)


class SqliteTransaction:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    async def release_expired(self, account_id: str, pair: tuple[E164, E164], now_ms: int) -> None:
        self._conn.execute(
            "UPDATE maskings SET ended_ms = expires_ms, end_reason = 'expired'"
            " WHERE account_id = ? AND pair_lo = ? AND pair_hi = ? AND ended_ms IS NULL"
            " AND expires_ms <= ?",
            (account_id, pair[0], pair[1], now_ms),
        )
        self._conn.execute(
            "DELETE FROM claims WHERE party IN (?, ?) AND expires_ms <= ?",
            (pair[0], pair[1], now_ms),
        )

    async def open_for_pair(
        self, account_id: str, pair: tuple[E164, E164], now_ms: int
    ) -> Masking | None:
        row = self._conn.execute(
            f"SELECT {_MASKING_COLUMNS} FROM maskings WHERE account_id = ? AND pair_lo = ?"
            " AND pair_hi = ? AND ended_ms IS NULL AND expires_ms > ?",
            (account_id, pair[0], pair[1], now_ms),
        ).fetchone()
        return None if row is None else _masking(row)

    async def previous_mask(self, account_id: str, pair: tuple[E164, E164]) -> E164 | None:
        row = self._conn.execute(
            "SELECT m.mask FROM maskings m JOIN pool_numbers p"
            " ON p.number = m.mask AND p.account_id = m.account_id"
            " WHERE m.account_id = ? AND m.pair_lo = ? AND m.pair_hi = ?"
            " ORDER BY m.created_ms DESC LIMIT 1",
            (account_id, pair[0], pair[1]),
        ).fetchone()
        return None if row is None else E164(row[0])

    async def is_free(self, mask: E164, pair: tuple[E164, E164], now_ms: int) -> bool:
        row = self._conn.execute(
            "SELECT 1 FROM claims WHERE mask = ? AND party IN (?, ?) AND expires_ms > ? LIMIT 1",
            (mask, pair[0], pair[1], now_ms),
        ).fetchone()
        return row is None

    async def first_free(
        self, account_id: str, pair: tuple[E164, E164], now_ms: int
    ) -> E164 | None:
        # One NOT IN per party keeps this O(deg(m1) + deg(m2)): the walk over the pool in
        # number order skips at most that many numbers before LIMIT 1 stops it.
        row = self._conn.execute(
            "SELECT number FROM pool_numbers WHERE account_id = ?"
            " AND number NOT IN (SELECT mask FROM claims WHERE party = ? AND expires_ms > ?)"
            " AND number NOT IN (SELECT mask FROM claims WHERE party = ? AND expires_ms > ?)"
            " ORDER BY number LIMIT 1",
            (account_id, pair[0], now_ms, pair[1], now_ms),
        ).fetchone()
        return None if row is None else E164(row[0])

    async def insert(self, masking: Masking) -> None:
        lo, hi = sorted((masking.m1, masking.m2))
        try:
            self._conn.execute(
                "INSERT INTO maskings (masking_id, account_id, m1, m2, pair_lo, pair_hi, mask,"
                " event_id, created_ms, expires_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    masking.masking_id,
                    masking.account_id,
                    masking.m1,
                    masking.m2,
                    lo,
                    hi,
                    masking.mask,
                    masking.event_id,
                    masking.created_ms,
                    masking.expires_ms,
                ),
            )
        except sqlite3.IntegrityError as error:
            if "maskings.account_id" in str(error):
                raise PairTaken() from error
            raise WriteFailed() from error
        try:
            self._conn.executemany(
                "INSERT INTO claims (mask, party, masking_id, expires_ms) VALUES (?, ?, ?, ?)",
                [
                    (masking.mask, party, masking.masking_id, masking.expires_ms)
                    for party in (masking.m1, masking.m2)
                ],
            )
        except sqlite3.IntegrityError as error:
            if "claims.mask" in str(error):
                raise ClaimTaken() from error
            raise WriteFailed() from error

    async def find_open(
        self,
        account_id: str,
        parties: tuple[E164, ...],
        mask: E164 | None,
        now_ms: int,
    ) -> list[Masking]:
        where = ["m.account_id = ?", "m.ended_ms IS NULL", "m.expires_ms > ?"]
        args: list[object] = [account_id, now_ms]
        if parties:
            # Claims are indexed by party, so the first party drives the lookup.
            where.append("m.masking_id IN (SELECT masking_id FROM claims WHERE party = ?)")
            args.append(parties[0])
            for party in parties[1:]:
                where.append("? IN (m.m1, m.m2)")
                args.append(party)
        if mask is not None:
            where.append("m.mask = ?")
            args.append(mask)
        rows = self._conn.execute(
            f"SELECT {', '.join('m.' + c.strip() for c in _MASKING_COLUMNS.split(','))}"
            f" FROM maskings m WHERE {' AND '.join(where)} ORDER BY m.created_ms",
            args,
        ).fetchall()
        return [_masking(row) for row in rows]

    async def change_expiry(
        self, masking_ids: list[str], expires_ms: int, now_ms: int, reason: str
    ) -> None:
        ids = [(masking_id,) for masking_id in masking_ids]
        if expires_ms <= now_ms:
            self._conn.executemany(
                "UPDATE maskings SET expires_ms = ?, ended_ms = ?, end_reason = ?"
                " WHERE masking_id = ?",
                [(now_ms, now_ms, reason, masking_id) for masking_id in masking_ids],
            )
            self._conn.executemany("DELETE FROM claims WHERE masking_id = ?", ids)
        else:
            self._conn.executemany(
                "UPDATE maskings SET expires_ms = ? WHERE masking_id = ?",
                [(expires_ms, masking_id) for masking_id in masking_ids],
            )
            self._conn.executemany(
                "UPDATE claims SET expires_ms = ? WHERE masking_id = ?",
                [(expires_ms, masking_id) for masking_id in masking_ids],
            )


class SqliteStore:
    def __init__(self, path: str, synchronous: str = "NORMAL") -> None:
        self._path = path
        try:
            self._conn = sqlite3.connect(
                path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
            self._conn.execute("PRAGMA foreign_keys = ON")
            if path != ":memory:":
                self._conn.execute("PRAGMA wal_autocheckpoint = 0")
        except sqlite3.Error as error:
            raise StorageUnavailable(str(error)) from error
        # Transactions span awaits in the service; the lock keeps two from sharing the connection.
        self._lock = asyncio.Lock()
        self._checkpointer: _Checkpointer | None = None
        if path != ":memory:":
            self._checkpointer = _Checkpointer(path)
            self._checkpointer.start()

    @classmethod
    def from_url(cls, url: str, synchronous: str = "NORMAL") -> SqliteStore:
        return cls(path_from_url(url), synchronous)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqliteTransaction]:
        async with self._lock:
            try:
                # IMMEDIATE takes the write lock up front, so a second process waits here
                # rather than failing at its first write after reading stale claims.
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as error:
                raise StorageUnavailable(str(error)) from error
            try:
                yield SqliteTransaction(self._conn)
            except sqlite3.OperationalError as error:
                self._conn.rollback()
                raise StorageUnavailable(str(error)) from error
            except sqlite3.Error as error:
                self._conn.rollback()
                raise WriteFailed(str(error)) from error
            except BaseException:
                self._conn.rollback()
                raise
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error as error:
                self._conn.rollback()
                raise StorageUnavailable(str(error)) from error

    def _read(self, sql: str, args: Iterable[object]) -> list[Any]:
        try:
            return self._conn.execute(sql, tuple(args)).fetchall()
        except sqlite3.OperationalError as error:
            raise StorageUnavailable(str(error)) from error

    def _write(self, sql: str, args: Iterable[object]) -> int:
        try:
            with self._conn:
                return self._conn.execute(sql, tuple(args)).rowcount
        except sqlite3.OperationalError as error:
            raise StorageUnavailable(str(error)) from error
        except sqlite3.Error as error:
            raise WriteFailed(str(error)) from error

    async def route(self, mask: E164, caller: E164, now_ms: int) -> Masking | None:
        rows = self._read(
            f"SELECT {', '.join('m.' + c.strip() for c in _MASKING_COLUMNS.split(','))}"
            " FROM claims c JOIN maskings m ON m.masking_id = c.masking_id"
            " WHERE c.mask = ? AND c.party = ? AND c.expires_ms > ?",
            (mask, caller, now_ms),
        )
        return _masking(rows[0]) if rows else None

    async def pool_owner(self, number: E164) -> str | None:
        rows = self._read("SELECT account_id FROM pool_numbers WHERE number = ?", (number,))
        return str(rows[0][0]) if rows else None

    async def last_masking(self, mask: E164, caller: E164) -> Masking | None:
        rows = self._read(
            f"SELECT {_MASKING_COLUMNS} FROM maskings WHERE mask = ? AND (m1 = ? OR m2 = ?)"
            " ORDER BY created_ms DESC LIMIT 1",
            (mask, caller, caller),
        )
        return _masking(rows[0]) if rows else None

    async def user(self, user_id: str) -> User | None:
        rows = self._read(
            "SELECT user_id, account_id, role, token_hash FROM users WHERE user_id = ?",
            (user_id,),
        )
        return User(*rows[0]) if rows else None

    async def user_by_token(self, token_hash: str) -> User | None:
        rows = self._read(
            "SELECT user_id, account_id, role, token_hash FROM users WHERE token_hash = ?",
            (token_hash,),
        )
        return User(*rows[0]) if rows else None

    async def session_user(self, ssid_hash: str, now_ms: int) -> User | None:
        rows = self._read(
            "SELECT u.user_id, u.account_id, u.role, u.token_hash FROM sessions s"
            " JOIN users u ON u.user_id = s.user_id WHERE s.ssid_hash = ? AND s.expires_ms > ?",
            (ssid_hash, now_ms),
        )
        return User(*rows[0]) if rows else None

    async def add_user(self, user: User, now_ms: int) -> None:
        self._write(
            "INSERT INTO users (user_id, account_id, role, token_hash, created_ms)"
            " VALUES (?, ?, ?, ?, ?)",
            (user.user_id, user.account_id, user.role, user.token_hash, now_ms),
        )

    async def add_session(self, ssid_hash: str, user_id: str, expires_ms: int) -> None:
        self._write(
            "INSERT INTO sessions (ssid_hash, user_id, expires_ms) VALUES (?, ?, ?)",
            (ssid_hash, user_id, expires_ms),
        )

    async def add_pool_numbers(self, account_id: str, numbers: list[E164], now_ms: int) -> int:
        async with self._lock:
            try:
                with self._conn:
                    self._conn.execute("BEGIN IMMEDIATE")
                    placeholders = ", ".join("?" * len(numbers))
                    taken = self._conn.execute(
                        f"SELECT count(*) FROM pool_numbers WHERE number IN ({placeholders})"
                        " AND account_id != ?",
                        (*numbers, account_id),
                    ).fetchone()[0]
                    if taken:
                        raise WriteFailed(f"{taken} of these numbers belong to another account")
                    before = self._conn.total_changes
                    self._conn.executemany(
                        "INSERT OR IGNORE INTO pool_numbers (number, account_id, added_ms)"
                        " VALUES (?, ?, ?)",
                        [(number, account_id, now_ms) for number in numbers],
                    )
                    return self._conn.total_changes - before
            except sqlite3.OperationalError as error:
                raise StorageUnavailable(str(error)) from error

    async def pool(self, account_id: str | None, now_ms: int) -> list[PoolNumber]:
        rows = self._read(
            "SELECT p.number, p.account_id, (SELECT count(*) FROM claims c WHERE c.mask = p.number"
            " AND c.expires_ms > ?) / 2 FROM pool_numbers p"
            " WHERE ? IS NULL OR p.account_id = ? ORDER BY p.account_id, p.number",
            (now_ms, account_id, account_id),
        )
        return [PoolNumber(E164(row[0]), row[1], row[2]) for row in rows]

    async def remove_pool_numbers(self, numbers: list[E164], now_ms: int, force: bool) -> int:
        async with self._lock:
            try:
                with self._conn:
                    self._conn.execute("BEGIN IMMEDIATE")
                    placeholders = ", ".join("?" * len(numbers))
                    live = self._conn.execute(
                        "SELECT DISTINCT masking_id FROM claims"
                        f" WHERE mask IN ({placeholders}) AND expires_ms > ?",
                        (*numbers, now_ms),
                    ).fetchall()
                    if live and not force:
                        raise WriteFailed(
                            f"{len(live)} live maskings use these numbers; end them or use --force"
                        )
                    self._conn.executemany(
                        "UPDATE maskings SET expires_ms = min(expires_ms, ?), ended_ms = ?,"
                        " end_reason = 'number removed' WHERE masking_id = ? AND ended_ms IS NULL",
                        [(now_ms, now_ms, row[0]) for row in live],
                    )
                    self._conn.execute(
                        f"DELETE FROM claims WHERE mask IN ({placeholders})", numbers
                    )
                    return self._conn.execute(
                        f"DELETE FROM pool_numbers WHERE number IN ({placeholders})", numbers
                    ).rowcount
            except sqlite3.OperationalError as error:
                raise StorageUnavailable(str(error)) from error

    async def sweep(self, now_ms: int) -> int:
        async with self._lock:
            try:
                with self._conn:
                    self._conn.execute("BEGIN IMMEDIATE")
                    closed = self._conn.execute(
                        "UPDATE maskings SET ended_ms = expires_ms, end_reason = 'expired'"
                        " WHERE ended_ms IS NULL AND expires_ms <= ?",
                        (now_ms,),
                    ).rowcount
                    self._conn.execute("DELETE FROM claims WHERE expires_ms <= ?", (now_ms,))
                    self._conn.execute("DELETE FROM sessions WHERE expires_ms <= ?", (now_ms,))
                    return closed
            except sqlite3.OperationalError as error:
                raise StorageUnavailable(str(error)) from error

    async def migrate(self) -> list[int]:
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
                        f"INSERT INTO schema_migrations (version, name)"
                        f" VALUES ({migration.version}, '{migration.name}');\nCOMMIT;"
                    )
                    done.append(migration.version)
                return done
            except sqlite3.OperationalError as error:
                if self._conn.in_transaction:
                    self._conn.rollback()
                raise StorageUnavailable(str(error)) from error
            except sqlite3.Error as error:
                if self._conn.in_transaction:
                    self._conn.rollback()
                raise StorageError(str(error)) from error

    async def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self._conn.close()
