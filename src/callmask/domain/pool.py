"""The pool of virtual numbers an account masks with, and how close it runs to full."""

from __future__ import annotations

from dataclasses import dataclass

from callmask.domain.numbers import E164


@dataclass(frozen=True, slots=True)
class PoolNumber:
    number: E164
    account_id: str
    active_maskings: int


@dataclass(frozen=True, slots=True)
class AccountPressure:
    """An account's pool against its busiest party: busiest == pool means the next is 1505."""

    account_id: str
    pool_numbers: int
    active_maskings: int
    busiest_party_maskings: int
    # Webhook notices not yet delivered (nor given up on): a backlog grows while the
    # account's receiver is down or slow.
    webhook_pending: int = 0
