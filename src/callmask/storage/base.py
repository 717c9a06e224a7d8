"""The storage interface the service uses; each backend implements it against a real database."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from callmask.domain.calls import CallEvent, CallRecord
from callmask.domain.masking import Masking
from callmask.domain.numbers import E164


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
class User:
    user_id: str
    account_id: str
    role: str
    token_hash: str


@dataclass(frozen=True, slots=True)
class PoolNumber:
    number: E164
    account_id: str
    active_maskings: int


class Transaction(Protocol):
    async def release_expired(self, account_id: str, pair: tuple[E164, E164], now_ms: int) -> None:
        """Close the pair's lapsed masking and drop both parties' lapsed claims."""

    async def open_for_pair(
        self, account_id: str, pair: tuple[E164, E164], now_ms: int
    ) -> Masking | None: ...

    async def previous_mask(self, account_id: str, pair: tuple[E164, E164]) -> E164 | None:
        """The pool number the pair's latest masking had, if it is still in the pool."""

    async def is_free(self, mask: E164, pair: tuple[E164, E164], now_ms: int) -> bool: ...

    async def first_free(
        self, account_id: str, pair: tuple[E164, E164], now_ms: int
    ) -> E164 | None:
        """The lowest pool number of the account that neither party holds a live claim on."""

    async def insert(self, masking: Masking) -> None:
        """Write the masking and one claim per party; raise PairTaken, ClaimTaken or WriteFailed."""

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


class Store(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[Transaction]: ...

    async def route(self, mask: E164, caller: E164, now_ms: int) -> Masking | None:
        """The live masking on this number with the caller as a party: the call hot path."""

    async def pool_owner(self, number: E164) -> str | None: ...

    async def last_masking(self, mask: E164, caller: E164) -> Masking | None:
        """The caller's most recent masking on this number, live or not."""

    async def user(self, user_id: str) -> User | None: ...

    async def user_by_token(self, token_hash: str) -> User | None: ...

    async def session_user(self, ssid_hash: str, now_ms: int) -> User | None: ...

    async def add_user(self, user: User, now_ms: int) -> None: ...

    async def set_token(self, user_id: str, token_hash: str) -> bool:
        """Replace a user's token; False when there is no such user."""

    async def add_session(self, ssid_hash: str, user_id: str, expires_ms: int) -> None: ...

    async def add_pool_numbers(self, account_id: str, numbers: list[E164], now_ms: int) -> int:
        """Add numbers to an account's pool; return how many were new. Raise if one is another's."""

    async def pool(self, account_id: str | None, now_ms: int) -> list[PoolNumber]: ...

    async def remove_pool_numbers(self, numbers: list[E164], now_ms: int, force: bool) -> int: ...

    async def sweep(self, now_ms: int) -> int:
        """Close every lapsed masking and drop its claims; return how many were closed."""

    async def record_call_event(self, event: CallEvent, now_ms: int) -> None:
        """Merge one event into its call's record, in one statement, whatever the arrival order.

        No event erases what another one set, and storing an event twice changes nothing
        (updated_ms included), so a queue may deliver it again or to two consumers.
        """

    async def call(self, call_id: str) -> CallRecord | None: ...

    async def migrate(self) -> list[int]:
        """Apply pending schema migrations; return the versions applied."""

    async def close(self) -> None: ...
