"""Use cases of maskings: set, unset, and closing those that lapsed (the sweep).

Every change that an account's webhook hears of writes its notice in the same transaction
(the outbox), so a crash between the commit and the delivery loses nothing.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets

from callmask.domain import fields, rules, webhooks
from callmask.domain.errors import (
    AlreadyMasked,
    InvalidParameters,
    NotInserted,
    PoolExhausted,
    SameNumbers,
)
from callmask.domain.masking import Masking, expiry_for_set, expiry_for_unset, pair_key
from callmask.domain.numbers import E164, normalise, redact
from callmask.domain.permissions import Permission
from callmask.service.accounts import Principal, permit
from callmask.service.context import Context, storage_failures
from callmask.storage.base import (
    ClaimTaken,
    PairTaken,
    StorageError,
    StorageUnavailable,
    Transaction,
    WriteFailed,
)

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


class Maskings:
    def __init__(self, context: Context) -> None:
        self._context = context
        self._store = context.store
        self._outbox = context.outbox
        self._region = context.settings.default_region
        self._rules = context.settings.expiry_rules
        self._recent_ms = context.settings.recent_release_minutes * 60_000

    async def _first_free(
        self, tx: Transaction, account_id: str, pair: tuple[E164, E164], now_ms: int
    ) -> E164 | None:
        """First fit, passing over numbers either party let go of recently while others are free."""
        if self._recent_ms:
            fresh = await tx.first_free(account_id, pair, now_ms, now_ms - self._recent_ms)
            if fresh is not None:
                return fresh
        return await tx.first_free(account_id, pair, now_ms)

    async def set_masking(
        self,
        principal: Principal,
        m1: object,
        m2: object,
        event_id: object = None,
        expiry_time: object = None,
        expiry_duration: object = None,
        call_time_limit: object = None,
        record: object = None,
    ) -> Masking:
        permit(principal, Permission.SET_MASKING)
        first, second = normalise(m1, "m1", self._region), normalise(m2, "m2", self._region)
        if first == second:
            raise SameNumbers()
        event = None
        if fields.given(event_id):
            event = fields.bounded_text(event_id, "eventId", _MAX_EVENT_ID)
        limit = rules.call_time_limit(call_time_limit) if fields.given(call_time_limit) else None
        recorded = rules.record(record) if fields.given(record) else None
        now_ms = self._context.now_ms()
        expires_ms = expiry_for_set(expiry_time, expiry_duration, now_ms, self._rules)
        try:
            return await self._allocate(
                principal.account_id, first, second, event, now_ms, expires_ms, limit, recorded
            )
        except PoolExhausted:
            await self._note_refusal(principal.account_id, now_ms)
            raise

    async def _allocate(
        self,
        account_id: str,
        first: E164,
        second: E164,
        event: str | None,
        now_ms: int,
        expires_ms: int,
        limit: int | None,
        recorded: bool | None,
    ) -> Masking:
        """Insert the masking, trying again while concurrent writers win; PoolExhausted when
        no number is free."""
        for _ in range(_ALLOCATION_ATTEMPTS):
            try:
                with storage_failures(StorageUnavailable):
                    masking, announced = await self._insert(
                        account_id,
                        first,
                        second,
                        event,
                        now_ms,
                        expires_ms,
                        limit,
                        recorded,
                    )
            except (ClaimTaken, PairTaken):
                # A concurrent writer won the number or the pair; the next attempt sees its
                # commit (and answers a retry with the same eventId as success, else 1503).
                continue
            except WriteFailed as error:
                log.warning("masking insert failed: %s", type(error.__cause__).__name__)
                raise NotInserted() from error
            if announced:
                self._outbox.on_notice()
            # Each request's access line is INFO already; this one, ~15 us of a set's CPU in
            # JSON, is for tracing a masking.
            log.debug(
                "masking set id=%s mask=%s parties=%s,%s",
                masking.masking_id,
                redact(masking.mask),
                redact(first),
                redact(second),
            )
            return masking
        raise PoolExhausted()

    async def _note_refusal(self, account_id: str, now_ms: int) -> None:
        """Count the 1505 for the console's pressure chart. The client's answer is the 1505
        whether or not the count could be written."""
        try:
            await self._store.note_refusal(account_id, now_ms)
        except StorageError as error:
            log.warning("1505 not counted: %s", type(error).__name__)

    async def _insert(
        self,
        account_id: str,
        first: E164,
        second: E164,
        event: str | None,
        now_ms: int,
        expires_ms: int,
        call_time_limit: int | None,
        record: bool | None,
    ) -> tuple[Masking, bool]:
        """One attempt: the pair's live masking (an exact retry), or a new one; and whether a
        notice was written."""
        pair = pair_key(first, second)
        async with self._store.transaction() as tx:
            before = await tx.before_set(account_id, pair, now_ms)
            if before.pooled:
                name = "m1" if first in before.pooled else "m2"
                raise InvalidParameters(
                    f"{name} is a pool number: a masked call to it would come back"
                    " through the proxy"
                )
            existing, lapsed = before.existing, before.lapsed
            if existing is not None:
                if event is not None and existing.event_id == event:
                    return existing, False
                raise AlreadyMasked()
            # The pair's previous number if neither party holds it now, else first fit.
            mask = before.sticky or await self._first_free(tx, account_id, pair, now_ms)
            if mask is None:
                raise PoolExhausted()
            # The clock read again, now the number is picked: whoever let it go committed
            # before our reads, so ended at or before this, and the history never shows two
            # maskings holding it for one party at once. now_ms was read before the
            # transaction waited for a connection or a lock (docs/decisions.md, "A masking
            # starts after the one it replaces").
            created_ms = max(now_ms, self._context.now_ms())
            masking = Masking(
                new_masking_id(created_ms),
                account_id,
                first,
                second,
                mask,
                event,
                created_ms,
                expires_ms,
                call_time_limit,
                record,
            )
            # Notices are built (~16 us each) only for an account with a webhook.
            announced = False
            if await tx.insert(masking):
                notices = [webhooks.masking_created(masking, created_ms)]
                notices += [
                    webhooks.masking_ended(m, m.expires_ms, "expired", now_ms) for m in lapsed
                ]
                announced = await self._outbox.write(tx, notices)
        return masking, announced

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
        given = {
            name: value
            for name, value in (("m1", m1), ("m2", m2), ("mask", mask))
            if value not in (None, "")
        }
        if not given:
            raise InvalidParameters("give at least one of m1, m2 or mask")
        parties = tuple(
            normalise(given[name], name, self._region) for name in ("m1", "m2") if name in given
        )
        did = normalise(given["mask"], "mask", self._region) if "mask" in given else None
        now_ms = self._context.now_ms()
        expires_ms = expiry_for_unset(expiry_time, expiry_duration, now_ms, self._rules)
        new_end = max(expires_ms, now_ms)
        with storage_failures():
            async with self._store.transaction() as tx:
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
                changed = [dataclasses.replace(m, expires_ms=new_end) for m in found]
                announced = await tx.has_webhook(principal.account_id) and await self._outbox.write(
                    tx,
                    [
                        webhooks.masking_ended(m, now_ms, "unset", now_ms)
                        if ending
                        else webhooks.masking_updated(m, now_ms)
                        for m in changed
                    ],
                )
        if announced:
            self._outbox.on_notice()
        log.debug("maskings unset count=%d", len(found))
        return changed

    async def sweep(self) -> int:
        """Close lapsed maskings; each one's masking.ended is written as the sweep notices it."""
        now_ms = self._context.now_ms()
        closed, announced = 0, False
        try:
            with storage_failures():
                while True:
                    async with self._store.transaction() as tx:
                        batch = await tx.close_lapsed(now_ms, _SWEEP_BATCH)
                        notices = [
                            webhooks.masking_ended(m, m.expires_ms, "expired", now_ms)
                            for m in batch
                        ]
                        announced = await self._outbox.write(tx, notices) or announced
                        if len(batch) < _SWEEP_BATCH:
                            await tx.drop_lapsed(now_ms)
                    closed += len(batch)
                    if len(batch) < _SWEEP_BATCH:
                        break
                while True:
                    async with self._store.transaction() as tx:
                        forgot = await tx.forget_releases(now_ms - self._recent_ms, _SWEEP_BATCH)
                    if forgot < _SWEEP_BATCH:
                        break
        finally:
            if announced:
                self._outbox.on_notice()
        return closed
