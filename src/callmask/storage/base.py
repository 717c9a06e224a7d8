"""The storage interface the service uses; each backend implements it against a real database."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from callmask.domain.accounts import Session, User
from callmask.domain.calls import CallEvent, CallRecord
from callmask.domain.masking import Masking, MaskingRecord
from callmask.domain.numbers import E164
from callmask.domain.permissions import Permission
from callmask.domain.pool import AccountPressure, PoolNumber
from callmask.domain.recordings import Recording, Status
from callmask.domain.reports import CallQuery, MaskingQuery
from callmask.domain.retention import Purged
from callmask.domain.rules import AccountRules
from callmask.domain.webhooks import Attempt, Claimed, Delivery, DeliveryQuery, Notice, Webhook


class StorageError(Exception):
    """Base of what a backend raises; never shown to clients as is."""


class StorageUnavailable(StorageError):
    """The database cannot be reached or is locked past its timeout."""


class PairTaken(StorageError):
    """Another open masking already holds this pair (the database's unique index said so)."""


class ClaimTaken(StorageError):
    """The chosen pool number is already claimed by one of the parties (a concurrent writer)."""


class WriteFailed(StorageError):
    """Any other failure while writing a masking."""


@dataclass(frozen=True, slots=True)
class BeforeSet:
    """What a set reads before it picks a number."""

    lapsed: list[Masking]  # the pair's masking that had lapsed, closed just now
    existing: Masking | None  # the pair's open masking
    sticky: E164 | None  # the pair's previous number, if neither party holds it now
    pooled: frozenset[E164]  # parties that are themselves pool numbers (of any account)


@dataclass(frozen=True, slots=True)
class CallChange:
    """A call record as an event left it, and whether its account takes webhooks."""

    record: CallRecord
    announced: bool


class Transaction(Protocol):
    async def before_set(self, account_id: str, pair: tuple[E164, E164], now_ms: int) -> BeforeSet:
        """What a set needs before it picks a number, in one round trip where the backend can.

        The pair's lapsed masking is closed (and both parties' lapsed claims dropped) first;
        then its open masking, the number its latest masking had if that is still in the pool
        and neither party holds it, and which parties are pool numbers.
        """

    async def first_free(
        self,
        account_id: str,
        pair: tuple[E164, E164],
        now_ms: int,
        released_since_ms: int | None = None,
    ) -> E164 | None:
        """The lowest pool number of the account that neither party holds a live claim on.

        With released_since_ms, also one that neither party let go of after that instant
        (among each party's latest sql.RECENT_RELEASES releases).
        """

    async def insert(self, masking: Masking) -> bool:
        """Write the masking and one claim per party; raise PairTaken, ClaimTaken or WriteFailed.

        Return whether the masking's account has a webhook.
        """

    async def find_open(
        self,
        account_id: str,
        parties: tuple[E164, ...],
        mask: E164 | None,
        now_ms: int,
    ) -> list[Masking]:
        """Live maskings of the account having every given party and, if given, that mask."""

    async def change_expiry(
        self, masking_ids: list[str], expires_ms: int, now_ms: int, reason: str
    ) -> None:
        """Move the end of these maskings; at or before now_ms they end and free their claims."""

    async def close_lapsed(self, now_ms: int, limit: int) -> list[Masking]:
        """Close up to limit lapsed maskings (dropping their claims); return them."""

    async def drop_lapsed(self, now_ms: int) -> None:
        """Drop lapsed claims and sessions."""

    async def forget_releases(self, before_ms: int, limit: int) -> int:
        """Drop up to limit records of numbers let go of at or before before_ms; say how many."""

    async def record_call_event(self, event: CallEvent, now_ms: int) -> CallChange | None:
        """Merge one event into its call's record, in one statement, whatever the arrival order.

        No event erases what another one set, and storing an event twice changes nothing
        (updated_ms included) and returns None, so a queue may deliver it again or to two
        consumers.
        """

    async def note_recording(
        self, call_id: str, recording_id: str, status: Status, reason: str | None, now_ms: int
    ) -> bool:
        """The proxy's word on a call's recording at answer; False (nothing changed) if the
        call already has a recording."""

    async def finish_recording(self, done: Recording, now_ms: int) -> bool:
        """Write a recording's outcome (ready or failed); False if it was not under way."""

    async def remove_pool_numbers(
        self, numbers: list[E164], now_ms: int, force: bool, account_id: str | None = None
    ) -> tuple[int, list[Masking]]:
        """Remove numbers; with force, end their live maskings (returned). Else WriteFailed.
        With account_id, WriteFailed unless that account's pool holds every one."""

    async def has_webhook(self, account_id: str) -> bool:
        """Whether the account's changes are announced (so notices are worth building)."""

    async def notify(self, notices: list[Notice]) -> int:
        """Store notices for accounts that have a webhook, once per dedup key; return how many."""


class Store(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[Transaction]: ...

    async def route(
        self, mask: E164, caller: E164, now_ms: int
    ) -> tuple[Masking, int | None, bool | None] | None:
        """The live masking on this number with the caller as a party, and its account's
        default call time limit and recording (None: the account set none): the call hot
        path."""

    async def pool_owner(self, number: E164) -> str | None: ...

    async def owner_rules(self, number: E164) -> AccountRules | None:
        """The rules of the account whose pool holds number (its defaults if it set none);
        None when no pool holds it. Read when a call does not connect."""

    async def last_masking(self, mask: E164, caller: E164) -> Masking | None:
        """The caller's most recent masking on this number, live or not."""

    async def user(self, user_id: str) -> User | None: ...

    async def user_by_token(self, token_hash: str) -> User | None: ...

    async def session_user(self, ssid_hash: str, now_ms: int) -> User | None: ...

    async def add_user(self, user: User, now_ms: int) -> None: ...

    async def set_permissions(self, user_id: str, permissions: frozenset[Permission]) -> bool:
        """Replace a user's permissions; False when there is no such user."""

    async def add_session(self, session: Session, token_hash: str, keep: int) -> int:
        """Store an ssid made from the token whose hash is token_hash; then revoke the user's
        ssids beyond the keep that expire last (this one included). How many were revoked."""

    async def account_known(self, account_id: str) -> bool:
        """Whether a user acts for the account or its pool holds a number."""

    async def account_rules(self, account_id: str) -> AccountRules | None:
        """The rules the account set for its calls; None if it set none."""

    async def set_account_rules(self, account_rules: AccountRules, now_ms: int) -> None:
        """Create or replace the account's rules."""

    async def add_pool_numbers(self, account_id: str, numbers: list[E164], now_ms: int) -> int:
        """Add numbers to an account's pool; return how many were new. Raise if one is another's."""

    async def pool(self, account_id: str | None, now_ms: int) -> list[PoolNumber]: ...

    async def call(self, call_id: str) -> CallRecord | None: ...

    async def calls_page(self, query: CallQuery) -> list[CallRecord]:
        """The report: up to query.page.limit calls in the page's order."""

    async def maskings_page(self, query: MaskingQuery) -> list[MaskingRecord]: ...

    async def note_refusal(self, account_id: str, now_ms: int) -> None:
        """Count a 1505 answered to the account, in the hour of now_ms."""

    async def refusals(self, account_id: str, since_ms: int) -> list[tuple[int, int]]:
        """The account's 1505s per hour, (hour_ms, count), from the hour since_ms falls in."""

    async def maskings_since(self, account_id: str, since_ms: int) -> int:
        """How many maskings the account set at or after since_ms."""

    async def calls_since(self, account_id: str, since_ms: int) -> int:
        """How many of the account's calls started at or after since_ms."""

    async def masking_spans(
        self, account_id: str, from_ms: int, to_ms: int, created_since_ms: int
    ) -> list[tuple[str, str, int, int]]:
        """(m1, m2, created_ms, ended or expiry ms) of the account's maskings created in
        [created_since_ms, to_ms) and live after from_ms."""

    async def call_facts(
        self, account_id: str, start_ms: int, end_ms: int
    ) -> list[tuple[int, str, int | None, int | None]]:
        """(started_ms, outcome, answered_ms, duration_s) of the account's calls started in
        [start_ms, end_ms)."""

    async def set_webhook(self, webhook: Webhook) -> None:
        """Create or replace the account's webhook (pending notices go to the new URL)."""

    async def webhook(self, account_id: str) -> Webhook | None: ...

    async def remove_webhook(self, account_id: str) -> bool:
        """Remove it and fail its pending notices; False when there was none."""

    async def outbox_counts(self, account_id: str) -> dict[str, int]:
        """How many of the account's notices are pending, delivered and failed."""

    async def claim_notices(self, now_ms: int, lease_ms: int, limit: int) -> list[Claimed]:
        """Lease up to limit due notices for one attempt each (several processes share them)."""

    async def finish_attempt(self, attempt: Attempt) -> None:
        """Record the attempt in the delivery log and move its notice on."""

    async def deliveries(self, query: DeliveryQuery) -> list[Delivery]: ...

    async def recording_of_call(self, call_id: str) -> Recording | None: ...

    async def recording(self, recording_id: str) -> Recording | None: ...

    async def recordings_of(self, call_ids: Sequence[str]) -> dict[str, Recording]:
        """The recordings of these calls, by call id (calls without one are left out)."""

    async def purge_step(self, cutoff_ms: int, limit: int) -> Purged:
        """Delete up to limit rows older than cutoff_ms of each kind, in one short transaction."""

    async def migrate(self) -> list[int]:
        """Apply pending schema migrations; return the versions applied."""

    async def close(self) -> None: ...

    # -- health and pool pressure, for /readyz and /metrics (storage/pressure.py) -----------

    async def pending_migrations(self, timeout_s: float) -> list[int]:
        """Shipped migrations the database lacks; a read that must reach it within timeout_s.

        Raise StorageUnavailable when the database cannot answer in time.
        """

    async def pressure(self, now_ms: int) -> list[AccountPressure]:
        """Per account: pool size, live maskings, and the most live claims one party holds."""

    # -- credentials beyond the login path (storage/credentials.py) ---------------------------

    async def rotate_token(
        self, user_id: str, token_hash: str, previous_until_ms: int | None
    ) -> bool:
        """Replace the token; the old one works until previous_until_ms (None: stops at once).

        False when there is no such user.
        """

    async def previous_token_user(
        self, user_id: str | None, token_hash: str, now_ms: int
    ) -> tuple[User, int] | None:
        """The user whose replaced token this is, and its grace's end (user_id None: bearer)."""

    async def previous_token_until(self, user_id: str) -> int | None: ...

    async def sessions_of(self, user_id: str) -> list[Session]:
        """The user's sessions, soonest to expire first (expired ones until swept)."""

    async def revoke_session(self, ssid_hash: str) -> int: ...

    async def revoke_sessions_of(self, user_id: str) -> int: ...
