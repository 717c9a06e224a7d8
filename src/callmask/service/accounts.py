"""Accounts and who may do what: users, tokens, ssids, permissions."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from callmask.domain import fields
from callmask.domain.accounts import Session, User
from callmask.domain.errors import InvalidParameters, InvalidToken, PermissionDenied
from callmask.domain.permissions import CLIENT_DEFAULT, Permission
from callmask.service.context import Context, storage_failures
from callmask.storage.base import StorageUnavailable

ROLES = ("client", "router")
# A verified token is trusted this long without asking the database again: every call
# and every set authenticates, and on PostgreSQL that lookup is a network round trip.
_AUTH_CACHE_S = 5.0
_AUTH_CACHE_SIZE = 10_000


def hash_secret(secret: str) -> str:
    """Tokens and ssids are random and high-entropy, so one SHA-256 is enough to store them."""
    return hashlib.sha256(secret.encode()).hexdigest()


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
    permissions: frozenset[Permission] = CLIENT_DEFAULT
    # The hash of the token presented (None: an ssid, or the CLI acting for the user), and when
    # it stops working if a rotation replaced it: an ssid made by this principal ends with it.
    token_hash: str | None = None
    token_until_ms: int | None = None


def principal_of(
    user: User, token_hash: str | None = None, token_until_ms: int | None = None
) -> Principal:
    return Principal(
        user.user_id, user.account_id, user.role, user.permissions, token_hash, token_until_ms
    )


def permit(principal: Principal, permission: Permission) -> None:
    """Account work is for clients holding the permission; routers only route (1015)."""
    if principal.role != "client" or permission not in principal.permissions:
        raise PermissionDenied(f"this endpoint needs the {permission.value} permission")


class Accounts:
    def __init__(self, context: Context) -> None:
        self._context = context
        self._store = context.store
        self._clock = context.clock
        self._verified: dict[str, tuple[Principal, float]] = {}

    async def authenticate(self, creds: Credentials) -> Principal:
        has_pair = creds.user_id not in (None, "") or creds.token not in (None, "")
        has_ssid = creds.ssid not in (None, "")
        if has_pair and has_ssid:
            raise InvalidParameters("send either ssid or userId and token, not both")
        with storage_failures(StorageUnavailable):
            if has_ssid:
                user = await self._store.session_user(
                    hash_secret(fields.bounded_text(creds.ssid, "ssid", failure=InvalidToken)),
                    self._context.now_ms(),
                )
                if user is None:
                    raise InvalidToken("Invalid or expired ssid")
                return principal_of(user)
            if not has_pair:
                raise InvalidToken("userId and token, or ssid, are required")
            user_id, token = (
                fields.bounded_text(creds.user_id, "userId", failure=InvalidToken),
                fields.bounded_text(creds.token, "token", failure=InvalidToken),
            )
            presented = hash_secret(token)
            key = f"{user_id}\0{presented}"
            if (known := self._recall(key)) is not None:
                return known
            user = await self._store.user(user_id)
        # Compare even for an unknown user so timing does not tell which userIds exist.
        stored = user.token_hash if user is not None else hash_secret(secrets.token_hex(16))
        if not hmac.compare_digest(presented, stored) or user is None:
            return await self._previous_token(key, user_id, presented)
        return self._remember(key, principal_of(user, presented))

    async def _previous_token(self, key: str, user_id: str | None, presented: str) -> Principal:
        """A token that `user rotate` replaced works until its grace period ends."""
        with storage_failures(StorageUnavailable):
            found = await self._store.previous_token_user(
                user_id, presented, self._context.now_ms()
            )
        if found is None:
            raise InvalidToken()
        user, until_ms = found
        return self._remember(key, principal_of(user, presented, until_ms), until_ms / 1000)

    def _recall(self, key: str) -> Principal | None:
        hit = self._verified.get(key)
        return hit[0] if hit is not None and hit[1] > self._clock() else None

    def _remember(self, key: str, principal: Principal, until: float | None = None) -> Principal:
        if len(self._verified) >= _AUTH_CACHE_SIZE:
            self._verified.clear()
        expires = self._clock() + _AUTH_CACHE_S
        self._verified[key] = (principal, expires if until is None else min(expires, until))
        return principal

    async def authenticate_bearer(self, token: str) -> Principal:
        # Remembered by the token itself, so a hit (every route lookup but one in 5 s) skips
        # the hash; the token is held only as long as the entry.
        key = "bearer " + token
        if (known := self._recall(key)) is not None:
            return known
        presented = hash_secret(token)
        with storage_failures(StorageUnavailable):
            user = await self._store.user_by_token(presented)
        if user is None:
            return await self._previous_token(key, None, presented)
        return self._remember(key, principal_of(user, presented))

    async def create_ssid(self, principal: Principal) -> tuple[str, int]:
        if principal.role != "client":
            # A router's token routes calls and nothing else; a session adds nothing to it.
            raise PermissionDenied("routers route calls only and do not make ssids")
        settings = self._context.settings
        ssid = secrets.token_urlsafe(32)
        expires_ms = self._context.now_ms() + settings.ssid_ttl_minutes * 60_000
        if principal.token_until_ms is not None:
            expires_ms = min(expires_ms, principal.token_until_ms)
        session = Session(hash_secret(ssid), principal.user_id, expires_ms)
        with storage_failures(StorageUnavailable):
            token_hash = principal.token_hash
            if token_hash is None:
                # The CLI acts for the user: the ssid belongs to the user's token of now.
                user = await self._store.user(principal.user_id)
                if user is None:
                    raise InvalidToken()
                token_hash = user.token_hash
            await self._store.add_session(session, token_hash, settings.ssid_max_per_user)
        return ssid, expires_ms

    async def user(self, user_id: str) -> User | None:
        return await self._store.user(user_id)

    async def add_user(
        self,
        user_id: str,
        role: str,
        account_id: str | None = None,
        permissions: frozenset[Permission] | None = None,
    ) -> str:
        """Create a user and return its token; only its hash is kept.

        A client gets CLIENT_DEFAULT unless permissions are given; a router gets none.
        """
        if role not in ROLES:
            raise InvalidParameters(f"role must be one of {', '.join(ROLES)}")
        if role == "router" and permissions:
            raise InvalidParameters("router users route calls only and hold no permissions")
        if permissions is None:
            permissions = CLIENT_DEFAULT if role == "client" else frozenset()
        token = secrets.token_urlsafe(32)
        user = User(user_id, account_id or user_id, role, hash_secret(token), permissions)
        await self._store.add_user(user, self._context.now_ms())
        return token

    async def change_permissions(
        self,
        user_id: str,
        grant: frozenset[Permission] = frozenset(),
        revoke: frozenset[Permission] = frozenset(),
    ) -> frozenset[Permission] | None:
        """The user's permissions after the change; None if no such user.

        Other processes see the change once their 5 s memory of the token runs out.
        """
        user = await self._store.user(user_id)
        if user is None:
            return None
        if user.role != "client" and grant:
            raise InvalidParameters("router users route calls only and hold no permissions")
        permissions = (user.permissions | grant) - revoke
        await self._store.set_permissions(user_id, permissions)
        self._verified.clear()
        return permissions

    async def rotate_token(self, user_id: str, grace_minutes: int = 0) -> str | None:
        """Give a user a new token; None if no such user.

        The old token keeps working for grace_minutes (0: stops at once; other processes
        may accept it for the 5 s they remember a verified token). The ssids made from it end
        with it: at once, or when the grace ends; those made from a token replaced earlier end
        now.
        """
        if grace_minutes < 0:
            raise InvalidParameters("the grace period cannot be negative")
        token = secrets.token_urlsafe(32)
        until_ms = self._context.now_ms() + grace_minutes * 60_000 if grace_minutes else None
        if not await self._store.rotate_token(user_id, hash_secret(token), until_ms):
            return None
        self._verified.clear()
        return token

    # -- sessions -----------------------------------------------------------------------------

    async def ssids(self, user_id: str) -> list[Session]:
        """The user's ssids (as stored: hashed), soonest to expire first; expired ones until
        the sweeper drops them."""
        return await self._store.sessions_of(user_id)

    async def revoke_ssid(self, ssid: str) -> bool:
        """End one ssid now. ssids are looked up on every request, so it stops at once."""
        revoked = await self._store.revoke_session(hash_secret(ssid.strip())) > 0
        self._verified.clear()
        return revoked

    async def revoke_ssids(self, user_id: str) -> int:
        """End every ssid of the user now; how many there were."""
        revoked = await self._store.revoke_sessions_of(user_id)
        self._verified.clear()
        return revoked


def fingerprint(session: Session) -> str:
    """Names an ssid in listings without revealing it: the start of its stored hash."""
    return session.ssid_hash[:12]
