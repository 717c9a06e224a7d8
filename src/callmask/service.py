"""Use cases: authenticate, set and unset maskings, route calls, record them, sweep."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from callmask.config import Settings
from callmask.domain.calls import CallEvent
from callmask.domain.errors import (
    AlreadyMasked,
    DatabaseUnavailable,
    InvalidParameters,
    InvalidToken,
    NotInserted,
    PermissionDenied,
    PoolExhausted,
    SameNumbers,
)
from callmask.domain.masking import Masking, expiry_for_set, expiry_for_unset, pair_key
from callmask.domain.numbers import E164, normalise, redact
from callmask.storage.base import (
    ClaimTaken,
    PairTaken,
    StorageUnavailable,
    Store,
    User,
    WriteFailed,
)

log = logging.getLogger("callmask.service")

ROLES = ("client", "router")
# A concurrent writer may claim the number we picked, or open the same pair, between our
# read and our insert (PostgreSQL, several processes); trying again sees its commit.
_ALLOCATION_ATTEMPTS = 5
_MAX_EVENT_ID = 255
# A verified token is trusted this long without asking the database again: every call
# and every set authenticates, and on PostgreSQL that lookup is a network round trip.
_AUTH_CACHE_S = 5.0
_AUTH_CACHE_SIZE = 10_000


def hash_secret(secret: str) -> str:
    """Tokens and ssids are random and high-entropy, so one SHA-256 is enough to store them."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_masking_id() -> str:
    return secrets.token_hex(12)


@dataclass(frozen=True, slots=True)
class Credentials:
    user_id: object = None
    token: object = None
    ssid: object = None


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: str
    account_id: str
    role: str


@dataclass(frozen=True, slots=True)
class Route:
    action: Literal["connect", "reject"]
    masking: Masking | None = None
    caller: E164 | None = None
    to: E164 | None = None
    sip_code: int = 200
    reason: str = ""


def _text(value: object, field: str, limit: int = 255) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidParameters(f"{field} must be a string")
    text = str(value).strip()
    if len(text) > limit:
        raise InvalidParameters(f"{field} is longer than {limit} characters")
    return text


class MaskingService:
    def __init__(
        self, store: Store, settings: Settings, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.settings = settings
        self._clock = clock
        self._rules = settings.expiry_rules
        self._verified: dict[str, tuple[Principal, float]] = {}

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    # -- auth -------------------------------------------------------------------------------

    async def authenticate(self, creds: Credentials) -> Principal:
        has_pair = creds.user_id not in (None, "") or creds.token not in (None, "")
        has_ssid = creds.ssid not in (None, "")
        if has_pair and has_ssid:
            raise InvalidParameters("send either ssid or userId and token, not both")
        try:
            if has_ssid:
                user = await self.store.session_user(
                    hash_secret(_text(creds.ssid, "ssid")), self.now_ms()
                )
                if user is None:
                    raise InvalidToken("Invalid or expired ssid")
                return Principal(user.user_id, user.account_id, user.role)
            if not has_pair:
                raise InvalidToken("userId and token, or ssid, are required")
            user_id, token = _text(creds.user_id, "userId"), _text(creds.token, "token")
            presented = hash_secret(token)
            key = f"{user_id}\0{presented}"
            if (known := self._recall(key)) is not None:
                return known
            user = await self.store.user(user_id)
        except StorageUnavailable as error:
            raise DatabaseUnavailable() from error
        # Compare even for an unknown user so timing does not tell which userIds exist.
        stored = user.token_hash if user is not None else hash_secret(secrets.token_hex(16))
        if not hmac.compare_digest(presented, stored) or user is None:
            raise InvalidToken()
        return self._remember(key, Principal(user.user_id, user.account_id, user.role))

    def _recall(self, key: str) -> Principal | None:
        hit = self._verified.get(key)
        return hit[0] if hit is not None and hit[1] > self._clock() else None

    def _remember(self, key: str, principal: Principal) -> Principal:
        if len(self._verified) >= _AUTH_CACHE_SIZE:
            self._verified.clear()
        self._verified[key] = (principal, self._clock() + _AUTH_CACHE_S)
        return principal

    async def authenticate_bearer(self, token: str) -> Principal:
        presented = hash_secret(token)
        if (known := self._recall(presented)) is not None:
            return known
        try:
            user = await self.store.user_by_token(presented)
        except StorageUnavailable as error:
            raise DatabaseUnavailable() from error
        if user is None:
            raise InvalidToken()
        return self._remember(presented, Principal(user.user_id, user.account_id, user.role))

    async def create_ssid(self, principal: Principal) -> tuple[str, int]:
        ssid = secrets.token_urlsafe(32)
        expires_ms = self.now_ms() + self.settings.ssid_ttl_minutes * 60_000
        try:
            await self.store.add_session(hash_secret(ssid), principal.user_id, expires_ms)
        except StorageUnavailable as error:
            raise DatabaseUnavailable() from error
        return ssid, expires_ms

    async def add_user(self, user_id: str, role: str, account_id: str | None = None) -> str:
        """Create a user and return its token; only its hash is kept."""
        if role not in ROLES:
            raise InvalidParameters(f"role must be one of {', '.join(ROLES)}")
        token = secrets.token_urlsafe(32)
        user = User(user_id, account_id or user_id, role, hash_secret(token))
        await self.store.add_user(user, self.now_ms())
        return token

    async def rotate_token(self, user_id: str) -> str | None:
        """Give a user a new token (the old one stops working at once); None if no such user."""
        token = secrets.token_urlsafe(32)
        if not await self.store.set_token(user_id, hash_secret(token)):
            return None
        self._verified.clear()
        return token

    @staticmethod
    def require(principal: Principal, role: str) -> None:
        if principal.role != role:
            raise PermissionDenied(f"this endpoint needs the {role} role")

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
        self.require(principal, "client")
        region = self.settings.default_region
        first, second = normalise(m1, "m1", region), normalise(m2, "m2", region)
        if first == second:
            raise SameNumbers()
        event = _text(event_id, "eventId", _MAX_EVENT_ID) if event_id not in (None, "") else None
        now_ms = self.now_ms()
        expires_ms = expiry_for_set(expiry_time, expiry_duration, now_ms, self._rules)
        pair = pair_key(first, second)
        for _ in range(_ALLOCATION_ATTEMPTS):
            try:
                async with self.store.transaction() as tx:
                    await tx.release_expired(principal.account_id, pair, now_ms)
                    existing = await tx.open_for_pair(principal.account_id, pair, now_ms)
                    if existing is not None:
                        if event is not None and existing.event_id == event:
                            return existing
                        raise AlreadyMasked()
                    previous = await tx.previous_mask(principal.account_id, pair)
                    if previous is not None and await tx.is_free(previous, pair, now_ms):
                        mask: E164 | None = previous
                    else:
                        mask = await tx.first_free(principal.account_id, pair, now_ms)
                    if mask is None:
                        raise PoolExhausted()
                    masking = Masking(
                        new_masking_id(),
                        principal.account_id,
                        first,
                        second,
                        mask,
                        event,
                        now_ms,
                        expires_ms,
                    )
                    await tx.insert(masking)
                log.info(
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
        self.require(principal, "client")
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
        try:
            async with self.store.transaction() as tx:
                found = await tx.find_open(principal.account_id, parties, did, now_ms)
                if not found:
                    raise InvalidParameters("no active masking matches the given m1, m2 and mask")
                reason = "unset" if expires_ms <= now_ms else "updated"
                await tx.change_expiry([m.masking_id for m in found], expires_ms, now_ms, reason)
        except (StorageUnavailable, WriteFailed) as error:
            raise DatabaseUnavailable() from error
        new_end = max(expires_ms, now_ms)
        log.info("maskings unset count=%d", len(found))
        return [
            Masking(
                m.masking_id, m.account_id, m.m1, m.m2, m.mask, m.event_id, m.created_ms, new_end
            )
            for m in found
        ]

    # -- calls ------------------------------------------------------------------------------

    async def route_call(self, principal: Principal, caller: object, mask: object) -> Route:
        """Where a call from caller to the pool number mask must go: the hot path of every call."""
        self.require(principal, "router")
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
        try:
            await self.store.record_call_event(event, self.now_ms())
        except (StorageUnavailable, WriteFailed) as error:
            # The event is well-formed, so a refusal is the database's state, not the event's:
            # the caller keeps it and tries again rather than dropping it.
            raise DatabaseUnavailable() from error

    async def sweep(self) -> int:
        try:
            return await self.store.sweep(self.now_ms())
        except StorageUnavailable as error:
            raise DatabaseUnavailable() from error
