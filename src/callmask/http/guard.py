"""Who gets in, and how often: rate limits and failed-authentication lockouts per request.

Rate limits (a token bucket per client address, then per account) apply to set, unset, the
queries and auth/ssid, never to route or callEvent: the SIP proxy's lookups must not wait on
them, and a call event it is refused is lost. Failed authentications are counted on every
endpoint, those two included: once an address or a userId
has failed too often, its requests are refused before any credential is looked at, so
guessing stops even for a guess that would have been right.

A userId lockout lets anyone who knows a userId lock its owner out; so an address that has
authenticated as that userId within the last day keeps being checked normally (its own
failures still count against the address). The client address is the socket's peer, or the
X-Forwarded-For of a trusted proxy (uvicorn's FORWARDED_ALLOW_IPS, 127.0.0.1 by default).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request

from callmask.config import Settings
from callmask.domain.errors import InvalidParameters, InvalidToken, TooManyRequests
from callmask.http.limits import MAX_KEYS, FailureThrottle, TokenBuckets
from callmask.service.accounts import Accounts, Credentials, Principal

# How long a successful (userId, address) pair is exempt from that userId's lockout, and how
# often a pair's last success is written down (not on every request: route is a hot path).
_KNOWN_S = 86_400.0
_KNOWN_REFRESH_S = 60.0
_USER_KEY_CHARS = 255


def client_address(request: Request) -> str:
    return request.client.host if request.client is not None else ""


def _user_key(value: object) -> str | None:
    if value.__class__ is str:
        text = value.strip()[:_USER_KEY_CHARS]
    elif value.__class__ is int:
        text = str(value)
    else:
        return None
    return text or None


class Guard:
    def __init__(self, accounts: Accounts, settings: Settings, clock: Callable[[], float]) -> None:
        """clock: monotonic seconds (a test's settable clock)."""
        self.accounts = accounts
        self._clock = clock
        self.by_address = TokenBuckets.of(
            settings.rate_limit_ip_per_second, settings.rate_limit_ip_burst, clock
        )
        self.by_account = TokenBuckets.of(
            settings.rate_limit_account_per_second, settings.rate_limit_account_burst, clock
        )
        window = settings.auth_fail_window_seconds
        self.address_failures = FailureThrottle.of(settings.auth_fail_limit_ip, window, clock)
        self.user_failures = FailureThrottle.of(settings.auth_fail_limit_user, window, clock)
        self._known: dict[tuple[str, str], float] = {}

    async def admit(
        self, request: Request, params: dict[str, Any], bearer: bool = False
    ) -> Principal:
        """The caller of a rate-limited endpoint, or TooManyRequests / the auth failure.
        bearer: `Authorization: Bearer <token>` is taken too, as the only credentials given."""
        address = client_address(request)
        if self.by_address is not None and (wait := self.by_address.take(address)):
            raise TooManyRequests("Too many requests from this address", wait)
        authorization = request.headers.get("authorization", "")
        if bearer and authorization[:7].lower() == "bearer ":
            if any(params.get(name) for name in ("userId", "token", "ssid")):
                raise InvalidParameters(
                    "give one kind of credentials: a bearer token, userId and token, or ssid"
                )
            principal = await self.authenticate_bearer(address, authorization[7:].strip())
        else:
            principal = await self.authenticate(address, params)
        if self.by_account is not None and (wait := self.by_account.take(principal.account_id)):
            raise TooManyRequests("Too many requests for this account", wait)
        return principal

    async def authenticate(self, address: str, params: dict[str, Any]) -> Principal:
        """userId+token or ssid, unless the address or the userId is locked out."""
        creds = Credentials(params.get("userId"), params.get("token"), params.get("ssid"))
        by_user = self.user_failures
        user = _user_key(creds.user_id) if by_user is not None else None
        by_address = self.address_failures
        if (by_address is not None and by_address.locked) or (by_user and by_user.locked):
            self._check_lockouts(address, user)
        try:
            principal = await self.accounts.authenticate(creds)
        except InvalidToken:
            self._failed(address, user)
            raise
        if user is not None:
            pair, now = (user, address), self._clock()
            if now - self._known.get(pair, -_KNOWN_S) >= _KNOWN_REFRESH_S:
                self._remember(pair, now)
        return principal

    async def authenticate_proxy(
        self, address: str, params: dict[str, Any], authorization: str
    ) -> Principal:
        """How the SIP proxy authenticates (route, callEvent): `Authorization: Bearer <token>`
        unless the parameters carry an ssid, else userId+token or ssid."""
        if authorization[:7].lower() == "bearer " and not params.get("ssid"):
            return await self.authenticate_bearer(address, authorization[7:].strip())
        return await self.authenticate(address, params)

    async def authenticate_bearer(self, address: str, token: str) -> Principal:
        self._check_lockouts(address, None)
        try:
            return await self.accounts.authenticate_bearer(token)
        except InvalidToken:
            self._failed(address, None)
            raise

    def _check_lockouts(self, address: str, user: str | None) -> None:
        if self.address_failures is not None and (
            wait := self.address_failures.locked_for(address)
        ):
            raise TooManyRequests("Too many failed authentications from this address", wait)
        if (
            user is not None
            and self.user_failures is not None
            and (wait := self.user_failures.locked_for(user))
            and not self._is_known(user, address)
        ):
            raise TooManyRequests("Too many failed authentications for this userId", wait)

    def _failed(self, address: str, user: str | None) -> None:
        if self.address_failures is not None:
            self.address_failures.fail(address)
        if user is not None and self.user_failures is not None:
            self.user_failures.fail(user)

    def _remember(self, pair: tuple[str, str], now: float) -> None:
        known = self._known
        if len(known) >= MAX_KEYS and pair not in known:
            for key in sorted(known, key=known.__getitem__)[: len(known) - MAX_KEYS * 3 // 4]:
                del known[key]  # the longest unseen first
        known[pair] = now

    def _is_known(self, user: str, address: str) -> bool:
        seen = self._known.get((user, address))
        return seen is not None and self._clock() - seen < _KNOWN_S
