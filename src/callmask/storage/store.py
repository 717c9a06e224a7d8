"""The Store facade, once for both backends.

A backend supplies its connections (for a transaction, for reads, for a lone write, for the
migrations) and what only it can do; every statement here is shared.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Generic, TypeVar

from callmask.domain.accounts import Session, User
from callmask.domain.calls import CallRecord
from callmask.domain.masking import Masking, MaskingRecord
from callmask.domain.numbers import E164
from callmask.domain.permissions import Permission, stored
from callmask.domain.pool import PoolNumber
from callmask.domain.recordings import Recording
from callmask.domain.reports import CallQuery, MaskingQuery
from callmask.domain.retention import Purged
from callmask.domain.rules import AccountRules
from callmask.domain.webhooks import Attempt, Claimed, Delivery, DeliveryQuery, Webhook
from callmask.storage import (
    credentials,
    outbox,
    pool,
    recordings,
    reports,
    retention,
    rules,
    sql,
    trends,
)
from callmask.storage.migrations import APPLIED, VERSIONS, Migration, migrations
from callmask.storage.transaction import SqlTransaction

T = TypeVar("T", bound=SqlTransaction)


class SqlStore(ABC, Generic[T]):
    """The Store protocol over a backend's SqlTransaction T."""

    dialect: str

    @abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[T]: ...

    @abstractmethod
    def _reads(self) -> AbstractAsyncContextManager[T]:
        """Where reads outside a transaction run."""

    def _report_reads(self) -> AbstractAsyncContextManager[T]:
        """Where the report pages run."""
        return self._reads()

    @abstractmethod
    def _writes(self) -> AbstractAsyncContextManager[T]:
        """Where a change of one statement runs."""

    @abstractmethod
    def _migrating(self) -> AbstractAsyncContextManager[T]:
        """Where migrate reads the applied versions, with no other process migrating."""

    @abstractmethod
    async def _apply(self, db: T, migration: Migration) -> None:
        """Run the migration's script and record its version, together or not at all."""

    async def migrate(self) -> list[int]:
        async with self._migrating() as db:
            await db.execute(VERSIONS)
            applied = {int(row[0]) for row in await db.fetch(APPLIED)}
            done = []
            for migration in migrations(self.dialect):
                if migration.version not in applied:
                    await self._apply(db, migration)
                    done.append(migration.version)
            return done

    # -- the hot reads; SQLite answers them without a context manager or an await of its own
    # (docs/decisions.md, 'The route fast path') ----------------------------------------------

    async def route(
        self, mask: E164, caller: E164, now_ms: int
    ) -> tuple[Masking, int | None, bool | None] | None:
        async with self._reads() as db:
            rows = await db.fetch(sql.ROUTE, mask, caller, now_ms)
        return sql.routed(rows[0]) if rows else None

    async def pool_owner(self, number: E164) -> str | None:
        async with self._reads() as db:
            rows = await db.fetch(sql.POOL_OWNER, number)
        return str(rows[0][0]) if rows else None

    async def owner_rules(self, number: E164) -> AccountRules | None:
        async with self._reads() as db:
            rows = await db.fetch(sql.OWNER_RULES, number)
        return rules.account_rules(rows[0]) if rows else None

    async def last_masking(self, mask: E164, caller: E164) -> Masking | None:
        async with self._reads() as db:
            rows = await db.fetch(sql.LAST_MASKING, mask, caller, mask, caller)
        return Masking(*rows[0]) if rows else None

    async def user(self, user_id: str) -> User | None:
        async with self._reads() as db:
            rows = await db.fetch(sql.USER, user_id)
        return sql.user(rows[0]) if rows else None

    async def user_by_token(self, token_hash: str) -> User | None:
        async with self._reads() as db:
            rows = await db.fetch(sql.USER_BY_TOKEN, token_hash)
        return sql.user(rows[0]) if rows else None

    async def session_user(self, ssid_hash: str, now_ms: int) -> User | None:
        async with self._reads() as db:
            rows = await db.fetch(sql.SESSION_USER, ssid_hash, now_ms, now_ms)
        return sql.user(rows[0]) if rows else None

    # -- accounts and the pool ----------------------------------------------------------------

    async def add_user(self, user: User, now_ms: int) -> None:
        async with self._writes() as db:
            await db.execute(sql.INSERT_USER, *sql.user_row(user, now_ms))

    async def set_permissions(self, user_id: str, permissions: frozenset[Permission]) -> bool:
        async with self._writes() as db:
            return await db.execute(sql.SET_PERMISSIONS, stored(permissions), user_id) == 1

    async def add_session(self, session: Session, token_hash: str, keep: int) -> int:
        async with self.transaction() as tx:
            return await credentials.add_session(tx, session, token_hash, keep)

    async def add_pool_numbers(self, account_id: str, numbers: list[E164], now_ms: int) -> int:
        async with self.transaction() as tx:
            return await tx.add_pool_numbers(account_id, numbers, now_ms)

    async def pool(self, account_id: str | None, now_ms: int) -> list[PoolNumber]:
        async with self._reads() as db:
            if account_id is None:
                rows = await db.fetch(pool.LISTING + pool.ORDER, now_ms)
            else:
                rows = await db.fetch(pool.LISTING_OF + pool.ORDER, now_ms, account_id)
        return [PoolNumber(E164(row[0]), row[1], row[2]) for row in rows]

    async def account_known(self, account_id: str) -> bool:
        async with self._reads() as db:
            return await rules.known(db, account_id)

    async def account_rules(self, account_id: str) -> AccountRules | None:
        async with self._reads() as db:
            return await rules.rules(db, account_id)

    async def set_account_rules(self, account_rules: AccountRules, now_ms: int) -> None:
        async with self.transaction() as tx:
            await rules.set_rules(tx, account_rules, now_ms)

    # -- calls and reports --------------------------------------------------------------------

    async def call(self, call_id: str) -> CallRecord | None:
        async with self._reads() as db:
            rows = await db.fetch(sql.CALL, call_id)
        return CallRecord(*rows[0]) if rows else None

    async def recording_of_call(self, call_id: str) -> Recording | None:
        async with self._reads() as db:
            return await recordings.by_call(db, call_id)

    async def recording(self, recording_id: str) -> Recording | None:
        async with self._reads() as db:
            return await recordings.by_id(db, recording_id)

    async def recordings_of(self, call_ids: Sequence[str]) -> dict[str, Recording]:
        async with self._report_reads() as db:
            return await recordings.of_calls(db, call_ids)

    async def calls_page(self, query: CallQuery) -> list[CallRecord]:
        async with self._report_reads() as db:
            return await reports.calls_page(db, query)

    async def maskings_page(self, query: MaskingQuery) -> list[MaskingRecord]:
        async with self._report_reads() as db:
            return await reports.maskings_page(db, query)

    # -- the console's figures over time (storage/trends.py) ----------------------------------

    async def note_refusal(self, account_id: str, now_ms: int) -> None:
        async with self._writes() as db:
            await trends.note_refusal(db, account_id, now_ms)

    async def refusals(self, account_id: str, since_ms: int) -> list[tuple[int, int]]:
        async with self._report_reads() as db:
            return await trends.refusals(db, account_id, since_ms)

    async def maskings_since(self, account_id: str, since_ms: int) -> int:
        async with self._report_reads() as db:
            return await trends.count(db, trends.MASKINGS_SINCE, account_id, since_ms)

    async def calls_since(self, account_id: str, since_ms: int) -> int:
        async with self._report_reads() as db:
            return await trends.count(db, trends.CALLS_SINCE, account_id, since_ms)

    async def masking_spans(
        self, account_id: str, from_ms: int, to_ms: int, created_since_ms: int
    ) -> list[tuple[str, str, int, int]]:
        async with self._report_reads() as db:
            return await trends.masking_spans(db, account_id, from_ms, to_ms, created_since_ms)

    async def call_facts(
        self, account_id: str, start_ms: int, end_ms: int
    ) -> list[tuple[int, str, int | None, int | None]]:
        async with self._report_reads() as db:
            return await trends.call_facts(db, account_id, start_ms, end_ms)

    async def purge_step(self, cutoff_ms: int, limit: int) -> Purged:
        async with self.transaction() as tx:
            return await retention.purge_step(tx, cutoff_ms, limit)

    # -- webhooks (storage/outbox.py) ---------------------------------------------------------

    async def set_webhook(self, webhook: Webhook) -> None:
        async with self.transaction() as tx:
            await outbox.set_webhook(tx, webhook)

    async def webhook(self, account_id: str) -> Webhook | None:
        async with self._reads() as db:
            return await outbox.webhook(db, account_id)

    async def remove_webhook(self, account_id: str) -> bool:
        async with self.transaction() as tx:
            return await outbox.remove_webhook(tx, account_id)

    async def outbox_counts(self, account_id: str) -> dict[str, int]:
        async with self._reads() as db:
            return await outbox.outbox_counts(db, account_id)

    async def claim_notices(self, now_ms: int, lease_ms: int, limit: int) -> list[Claimed]:
        async with self.transaction() as tx:
            return await outbox.claim(tx, now_ms, lease_ms, limit)

    async def finish_attempt(self, attempt: Attempt) -> None:
        async with self.transaction() as tx:
            await outbox.finish(tx, attempt)

    async def deliveries(self, query: DeliveryQuery) -> list[Delivery]:
        async with self._report_reads() as db:
            return await outbox.deliveries(db, query)

    # -- credentials beyond the login path (storage/credentials.py) ---------------------------

    async def rotate_token(
        self, user_id: str, token_hash: str, previous_until_ms: int | None
    ) -> bool:
        async with self.transaction() as tx:
            return await credentials.rotate_token(tx, user_id, token_hash, previous_until_ms)

    async def previous_token_user(
        self, user_id: str | None, token_hash: str, now_ms: int
    ) -> tuple[User, int] | None:
        async with self._reads() as db:
            return await credentials.previous_token_user(db, user_id, token_hash, now_ms)

    async def previous_token_until(self, user_id: str) -> int | None:
        async with self._reads() as db:
            return await credentials.previous_until(db, user_id)

    async def sessions_of(self, user_id: str) -> list[Session]:
        async with self._reads() as db:
            return await credentials.sessions_of(db, user_id)

    async def revoke_session(self, ssid_hash: str) -> int:
        async with self.transaction() as tx:
            return await credentials.revoke_session(tx, ssid_hash)

    async def revoke_sessions_of(self, user_id: str) -> int:
        async with self.transaction() as tx:
            return await credentials.revoke_sessions_of(tx, user_id)
