"""A set's, an unset's and a sweep's statements, once for both backends.

Each backend supplies how a statement runs on its connection (and turns its driver's errors
into the storage errors), and replaces what it can do in fewer round trips.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from callmask.domain.calls import CallEvent, CallRecord
from callmask.domain.masking import Masking
from callmask.domain.numbers import E164
from callmask.domain.recordings import Recording, Status
from callmask.domain.webhooks import Notice
from callmask.storage import outbox, pool, recordings, sql
from callmask.storage.base import BeforeSet, CallChange, WriteFailed


class SqlTransaction(ABC):
    """The Transaction protocol over ?-placeholder statements; also an Executor."""

    __slots__ = ()
    dialect: str

    @abstractmethod
    async def fetch(self, statement: str, *args: object) -> list[Sequence[Any]]: ...

    @abstractmethod
    async def execute(self, statement: str, *args: object) -> int:
        """Run a statement; return how many rows it changed."""

    @abstractmethod
    async def execute_many(self, statement: str, rows: Sequence[Sequence[object]]) -> None: ...

    @abstractmethod
    async def _insert_numbers(self, account_id: str, numbers: list[E164], now_ms: int) -> int:
        """Add the numbers not in any pool yet to the account's; return how many."""

    async def before_set(self, account_id: str, pair: tuple[E164, E164], now_ms: int) -> BeforeSet:
        # Six statements: cheap where a statement costs no round trip (SQLite); PostgreSQL
        # replaces them with one (sql.BEFORE_SET_PG).
        closed = await self.fetch(sql.CLOSE_LAPSED_PAIR, account_id, *pair, now_ms)
        await self.execute(sql.DROP_LAPSED_CLAIMS, *pair, now_ms)
        existing = await self.fetch(sql.OPEN_FOR_PAIR, account_id, *pair, now_ms)
        previous = await self.fetch(sql.PREVIOUS_MASK, account_id, *pair)
        sticky = E164(previous[0][0]) if previous else None
        if sticky is not None and await self.fetch(sql.IS_CLAIMED, sticky, *pair, now_ms):
            sticky = None
        pooled = frozenset(E164(row[0]) for row in await self.fetch(sql.POOLED, *pair))
        return BeforeSet(
            [Masking(*row) for row in closed],
            Masking(*existing[0]) if existing else None,
            sticky,
            pooled,
        )

    async def first_free(
        self,
        account_id: str,
        pair: tuple[E164, E164],
        now_ms: int,
        released_since_ms: int | None = None,
    ) -> E164 | None:
        statement, args = sql.first_free_args(account_id, pair, now_ms, released_since_ms)
        rows = await self.fetch(statement, *args)
        return E164(rows[0][0]) if rows else None

    async def insert(self, masking: Masking) -> bool:
        m = masking
        rows = await self.fetch(sql.INSERT_MASKING, *sql.masking_row(m))
        claims = [(m.mask, party, m.masking_id, m.expires_ms) for party in (m.m1, m.m2)]
        await self.execute_many(sql.INSERT_CLAIM, claims)
        return bool(rows[0][0])

    async def find_open(
        self,
        account_id: str,
        parties: tuple[E164, ...],
        mask: E164 | None,
        now_ms: int,
    ) -> list[Masking]:
        statement, args = sql.find_open_args(account_id, parties, mask, now_ms, self.dialect)
        return [Masking(*row) for row in await self.fetch(statement, *args)]

    async def change_expiry(
        self, masking_ids: list[str], expires_ms: int, now_ms: int, reason: str
    ) -> None:
        if expires_ms <= now_ms:
            ends = [(now_ms, now_ms, reason, masking_id) for masking_id in masking_ids]
            await self.execute_many(sql.END_MASKING, ends)
            await self.execute_many(sql.DROP_CLAIMS_OF, [(mid,) for mid in masking_ids])
        else:
            moves = [(expires_ms, mid) for mid in masking_ids]
            await self.execute_many(sql.MOVE_MASKING_END, moves)
            await self.execute_many(sql.MOVE_CLAIMS_END, moves)

    async def close_lapsed(self, now_ms: int, limit: int) -> list[Masking]:
        rows = await self.fetch(sql.CLOSE_LAPSED_BATCH, now_ms, limit, now_ms)
        return [Masking(*row) for row in rows]

    async def drop_lapsed(self, now_ms: int) -> None:
        await self.execute(sql.DROP_ALL_LAPSED_CLAIMS, now_ms)
        await self.execute(sql.DROP_LAPSED_SESSIONS, now_ms)

    async def forget_releases(self, before_ms: int, limit: int) -> int:
        return await self.execute(sql.FORGET_RELEASES, before_ms, limit)

    async def record_call_event(self, event: CallEvent, now_ms: int) -> CallChange | None:
        rows = await self.fetch(sql.UPSERT_CALL_RETURNING, *sql.call_row(event, now_ms))
        return CallChange(CallRecord(*rows[0][:-1]), bool(rows[0][-1])) if rows else None

    async def note_recording(
        self, call_id: str, recording_id: str, status: Status, reason: str | None, now_ms: int
    ) -> bool:
        return await recordings.note(self, call_id, recording_id, status, reason, now_ms)

    async def finish_recording(self, done: Recording, now_ms: int) -> bool:
        return await recordings.finish(self, done, now_ms)

    async def add_pool_numbers(self, account_id: str, numbers: list[E164], now_ms: int) -> int:
        among, values = pool.among(self.dialect, numbers)
        [(taken,)] = await self.fetch(pool.FOREIGN_NUMBERS.format(among=among), *values, account_id)
        if taken:
            raise WriteFailed(f"{taken} of these numbers belong to another account")
        return await self._insert_numbers(account_id, numbers, now_ms)

    async def remove_pool_numbers(
        self, numbers: list[E164], now_ms: int, force: bool, account_id: str | None = None
    ) -> tuple[int, list[Masking]]:
        among, values = pool.among(self.dialect, numbers)
        if account_id is not None:
            statement = pool.HELD_BY_ACCOUNT.format(among=among)
            [(held,)] = await self.fetch(statement, *values, account_id)
            missing = len(set(numbers)) - held
            if missing:
                raise WriteFailed(f"{missing} of these numbers are not in this account's pool")
        [(live,)] = await self.fetch(pool.LIVE_ON_NUMBERS.format(among=among), *values, now_ms)
        if live and not force:
            raise WriteFailed(f"{live} live maskings use these numbers")
        ended = await self.fetch(pool.END_ON_NUMBERS.format(among=among), now_ms, *values, now_ms)
        await self.execute(pool.DROP_CLAIMS_ON_NUMBERS.format(among=among), *values)
        removed = await self.execute(pool.DROP_NUMBERS.format(among=among), *values)
        return removed, [Masking(*row) for row in ended]

    async def has_webhook(self, account_id: str) -> bool:
        return await outbox.has_webhook(self, account_id)

    async def notify(self, notices: list[Notice]) -> int:
        return await outbox.notify(self, notices)
