"""Use cases: authenticate, set and unset maskings, route calls, record them, sweep.

Every change that an account's webhook hears of writes its notice in the same transaction
(the outbox), so a crash between the commit and the delivery loses nothing.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from callmask.accounts import (
    ROLES,
    Accounts,
    Credentials,
    Principal,
    hash_secret,
    permit,
    text_value,
)
from callmask.config import Settings
from callmask.domain import webhooks
from callmask.domain.calls import CallEvent
from callmask.domain.errors import (
    AlreadyMasked,
    DatabaseUnavailable,
    InvalidParameters,
    NotInserted,
    PermissionDenied,
    PoolExhausted,
    SameNumbers,
)
from callmask.domain.masking import Masking, expiry_for_set, expiry_for_unset, pair_key
from callmask.domain.numbers import E164, normalise, redact
from callmask.domain.permissions import Permission
from callmask.storage.base import (
    ClaimTaken,
    PairTaken,
    StorageUnavailable,
    Store,
    Transaction,
    WriteFailed,
)

# The account side lives in accounts.py; these names are used from here by the adapters.
__all__ = [
    "ROLES",
    "Credentials",
    "MaskingService",
    "Principal",
    "Route",
    "hash_secret",
    "new_masking_id",
    "permit",
]

log = logging.getLogger("callmask.service")

# A concurrent writer may claim the number we picked, or open the same pair, between our
# read and our insert (PostgreSQL, several processes); trying again sees its commit.
_ALLOCATION_ATTEMPTS = 5
_MAX_EVENT_ID = 255
# Lapsed maskings are closed this many per transaction, so no sweep holds a long lock.
_SWEEP_BATCH = 1000


def new_masking_id(now_ms: int) -> str:
    """24 hex digits: the creation millisecond (11), then 52 random bits.

    Ids made in time order go into the end of the key's index, and of claims' index on it,
    rather than onto a random page each: fewer pages written per set.
    """
    return f"{now_ms & 0xFFFFFFFFFFF:011x}{secrets.randbits(52):013x}"


@dataclass(frozen=True, slots=True)
class Route:
    action: Literal["connect", "reject"]
    masking: Masking | None = None
    caller: E164 | None = None
    to: E164 | None = None
    sip_code: int = 200
    reason: str = ""


class MaskingService(Accounts):
    def __init__(
        self, store: Store, settings: Settings, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(store, settings, clock)
        self._rules = settings.expiry_rules
        self._recent_ms = settings.recent_release_minutes * 60_000
        # Called after a commit that wrote notices: the deliverer of this process wakes up.
        self.on_notice: Callable[[], None] = lambda: None

    async def _notify(self, tx: Transaction, notices: list[webhooks.Notice]) -> bool:
        return bool(notices) and await tx.notify(notices) > 0

    async def _first_free(
        self, tx: Transaction, account_id: str, pair: tuple[E164, E164], now_ms: int
    ) -> E164 | None:
        """First fit, passing over numbers either party let go of recently while others are free."""
        if self._recent_ms:
            fresh = await tx.first_free(account_id, pair, now_ms, now_ms - self._recent_ms)
            if fresh is not None:
                return fresh
        return await tx.first_free(account_id, pair, now_ms)

    # -- maskings ---------------------------------------------------------------------------

    async def set_masking(
        self,
        principal: Principal,
        m1: object,
        m2: object,
        event_id: object = None,
        expiry_time: object = None,
        expiry_duration: object = None,
    ) -> Masking:
        permit(principal, Permission.SET_MASKING)
        region = self.settings.default_region
        first, second = normalise(m1, "m1", region), normalise(m2, "m2", region)
        if first == second:
            raise SameNumbers()
        event = None
        if event_id not in (None, ""):
            event = text_value(event_id, "eventId", _MAX_EVENT_ID)
        now_ms = self.now_ms()
        expires_ms = expiry_for_set(expiry_time, expiry_duration, now_ms, self._rules)
        pair = pair_key(first, second)
        for _ in range(_ALLOCATION_ATTEMPTS):
            try:
                async with self.store.transaction() as tx:
                    before = await tx.before_set(principal.account_id, pair, now_ms)
                    if before.pooled:
                        name = "m1" if first in before.pooled else "m2"
                        raise InvalidParameters(
                            f"{name} is a pool number: a masked call to it would come back"
                            " through the proxy"
                        )
                    existing, lapsed = before.existing, before.lapsed
                    if existing is not None:
                        if event is not None and existing.event_id == event:
                            return existing
                        raise AlreadyMasked()
                    # The pair's previous number if neither party holds it now, else first fit.
                    mask = before.sticky or await self._first_free(
                        tx, principal.account_id, pair, now_ms
                    )
                    if mask is None:
                        raise PoolExhausted()
                    masking = Masking(
                        new_masking_id(now_ms),
                        principal.account_id,
                        first,
                        second,
                        mask,
                        event,
                        now_ms,
                        expires_ms,
                    )
                    # Notices are built (~16 us each) only for an account with a webhook.
                    announced = False
                    if await tx.insert(masking):
                        notices = [webhooks.masking_created(masking, now_ms)]
                        notices += [
                            webhooks.masking_ended(m, m.expires_ms, "expired", now_ms)
                            for m in lapsed
                        ]
                        announced = await self._notify(tx, notices)
                if announced:
                    self.on_notice()
                # Each request's access line is INFO already; this one, ~15 us of a set's CPU in
                # JSON, is for tracing a masking.
                log.debug(
                    "masking set id=%s mask=%s parties=%s,%s",
                    masking.masking_id,
                    redact(mask),
                    redact(first),
                    redact(second),
                )
                return masking
            except (ClaimTaken, PairTaken):
                # A concurrent writer won the number or the pair; the next attempt sees its
                # commit (and answers a retry with the same eventId as success, else 1503).
                continue
            except WriteFailed as error:
                log.warning("masking insert failed: %s", type(error.__cause__).__name__)
                raise NotInserted() from error
            except StorageUnavailable as error:
                raise DatabaseUnavailable() from error
        raise PoolExhausted()

    async def unset_masking(
        self,
        principal: Principal,
        m1: object = None,
        m2: object = None,
        mask: object = None,
        expiry_time: object = None,
        expiry_duration: object = None,
    ) -> list[Masking]:
        """Change the end of every live masking matching all given selectors; return them."""
        permit(principal, Permission.SET_MASKING)
        region = self.settings.default_region
        given = {
            name: value
            for name, value in (("m1", m1), ("m2", m2), ("mask", mask))
            if value not in (None, "")
        }
        if not given:
            raise InvalidParameters("give at least one of m1, m2 or mask")
        parties = tuple(
            normalise(given[name], name, region) for name in ("m1", "m2") if name in given
        )
        did = normalise(given["mask"], "mask", region) if "mask" in given else None
        now_ms = self.now_ms()
        expires_ms = expiry_for_unset(expiry_time, expiry_duration, now_ms, self._rules)
        new_end = max(expires_ms, now_ms)
        try:
            async with self.store.transaction() as tx:
                found = await tx.find_open(principal.account_id, parties, did, now_ms)
                if not found:
                    raise InvalidParameters("no active masking matches the given m1, m2 and mask")
                ending = expires_ms <= now_ms
                await tx.change_expiry(
                    [m.masking_id for m in found],
                    expires_ms,
                    now_ms,
                    "unset" if ending else "updated",
                )
                changed = [
                    Masking(
                        m.masking_id,
                        m.account_id,
                        m.m1,
                        m.m2,
                        m.mask,
                        m.event_id,
                        m.created_ms,
                        new_end,
                    )
                    for m in found
                ]
                announced = await tx.has_webhook(principal.account_id) and await self._notify(
                    tx,
                    [
                        webhooks.masking_ended(m, now_ms, "unset", now_ms)
                        if ending
                        else webhooks.masking_updated(m, now_ms)
                        for m in changed
                    ],
                )
        except (StorageUnavailable, WriteFailed) as error:
            raise DatabaseUnavailable() from error
        if announced:
            self.on_notice()
        log.debug("maskings unset count=%d", len(found))
        return changed

    # -- calls ------------------------------------------------------------------------------

    async def route_call(self, principal: Principal, caller: object, mask: object) -> Route:
        """Where a call from caller to the pool number mask must go: the hot path of every call."""
        if principal.role != "router":
            raise PermissionDenied("this endpoint needs the router role")
        region = self.settings.default_region
        did = normalise(mask, "mask", region)
        try:
            who = normalise(caller, "caller", region)
        except InvalidParameters:
            # Withheld or malformed caller ID on a live trunk: nobody to connect it to.
            return Route("reject", sip_code=403, reason="caller has no masking on this number")
        now_ms = self.now_ms()
        try:
            masking = await self.store.route(did, who, now_ms)
            if masking is not None:
                other = masking.other_party(who)
                return Route("connect", masking=masking, caller=who, to=other)
            if await self.store.pool_owner(did) is None:
                return Route("reject", sip_code=404, reason="unknown number")
            last = await self.store.last_masking(did, who)
        except StorageUnavailable as error:
            raise DatabaseUnavailable() from error
        if last is not None:
            return Route("reject", masking=last, sip_code=403, reason="masking expired")
        return Route("reject", sip_code=403, reason="caller has no masking on this number")

    async def record_call_event(self, event: CallEvent) -> None:
        """Store one event the SIP proxy reported; storing it again changes nothing."""
        now_ms = self.now_ms()
        try:
            async with self.store.transaction() as tx:
                change = await tx.record_call_event(event, now_ms)
                announced = change is not None and (
                    change.announced
                    and await self._notify(tx, webhooks.call_notices(change.record, now_ms))
                )
        except (StorageUnavailable, WriteFailed) as error:
            # The event is well-formed, so a refusal is the database's state, not the event's:
            # the caller keeps it and tries again rather than dropping it.
            raise DatabaseUnavailable() from error
        if announced:
            self.on_notice()

    async def sweep(self) -> int:
        """Close lapsed maskings; each one's masking.ended is written as the sweep notices it."""
        now_ms = self.now_ms()
        closed, announced = 0, False
        try:
            while True:
                async with self.store.transaction() as tx:
                    batch = await tx.close_lapsed(now_ms, _SWEEP_BATCH)
                    notices = [
                        webhooks.masking_ended(m, m.expires_ms, "expired", now_ms) for m in batch
                    ]
                    announced = await self._notify(tx, notices) or announced
                    if len(batch) < _SWEEP_BATCH:
                        await tx.drop_lapsed(now_ms)
                closed += len(batch)
                if len(batch) < _SWEEP_BATCH:
                    break
            while True:
                async with self.store.transaction() as tx:
                    forgot = await tx.forget_releases(now_ms - self._recent_ms, _SWEEP_BATCH)
                if forgot < _SWEEP_BATCH:
                    break
        except (StorageUnavailable, WriteFailed) as error:
            raise DatabaseUnavailable() from error
        finally:
            if announced:
                self.on_notice()
        return closed

    async def remove_pool_numbers(self, numbers: list[E164], force: bool) -> int:
        """Take numbers out of the pool; with force their live maskings end ("number removed")."""
        now_ms = self.now_ms()
        async with self.store.transaction() as tx:
            removed, ended = await tx.remove_pool_numbers(numbers, now_ms, force)
            notices = [webhooks.masking_ended(m, now_ms, "number removed", now_ms) for m in ended]
            await self._notify(tx, notices)
        return removed
