"""Who gets in, and how often: rate limits and failed-authentication lockouts per request.

Rate limits (a token bucket per client address, then per account) apply to set, unset, the
queries and auth/ssid, never to route or callEvent: the SIP proxy's lookups must not wait on
them, and a call event it is refused is lost. Failed authentications are counted on every
endpoint, those two included: once an address or a userId
has failed too often, its requests are refused before any credential is looked at, so
guessing stops even for a guess that would have been right.

A userId lockout lets anyone who knows a userId lock its owner out; so an address that has
authenticated as that userId within the last day keeps being checked normally (its own
failures still count against the address). Likewise an address lockout must not stop calls:
a router that authenticated from an address within the last day still routes (and posts call
events) from it while it is locked out, whoever else failed there; anything else from that
address is refused as before.

The client address is the socket's peer, or, from a peer listed in CALLMASK_TRUSTED_PROXIES
(none by default), the last address in X-Forwarded-For that is not itself a listed proxy: the
one the nearest trusted proxy saw. The header is anyone's to write, so it is believed only
from the proxies the operator names (`serve` turns uvicorn's own handling of it off).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.types import Scope

from callmask.config import IPNetwork, Settings, proxy_networks
from callmask.domain.errors import InvalidParameters, InvalidToken, TooManyRequests
from callmask.http.limits import MAX_KEYS, FailureThrottle, TokenBuckets
from callmask.service.accounts import Accounts, Credentials, Principal

# How long a successful (userId, address) pair is exempt from that userId's lockout, and how
# often a pair's last success is written down (not on every request: route is a hot path).
_KNOWN_S = 86_400.0
_KNOWN_REFRESH_S = 60.0
_USER_KEY_CHARS = 255
_CREDENTIAL_FIELDS = ("userId", "token", "ssid")
_Key = TypeVar("_Key", str, tuple[str, str])


def _host(hop: str) -> str | None:
    """An X-Forwarded-For hop's address ("192.0.2.1", "192.0.2.1:80", "[2001:db8::1]:80"),
    normalised; None if it is not one."""
    if hop.startswith("["):
        hop = hop[1 : hop.find("]")]
    elif hop.count(":") == 1:
        hop = hop.partition(":")[0]
    try:
        return str(ipaddress.ip_address(hop))
    except ValueError:
        return None


class Addresses:
    """Who a request comes from: its peer, or the client a trusted proxy forwarded for."""

    def __init__(self, proxies: tuple[IPNetwork, ...]) -> None:
        self._proxies = proxies
        self._trusted: dict[str, bool] = {}

    def is_proxy(self, host: str) -> bool:
        found = self._trusted.get(host)
        if found is None:
            try:
                address = ipaddress.ip_address(host)
            except ValueError:
                found = False
            else:
                found = any(address in network for network in self._proxies)
            if len(self._trusted) < MAX_KEYS:
                self._trusted[host] = found
        return found

    def of(self, scope: Scope) -> str:
        client = scope.get("client")
        peer: str = client[0] if client else ""
        if not self._proxies or not self.is_proxy(peer):
            return peer
        hops = [
            hop.strip()
            for name, value in scope["headers"]
            if name == b"x-forwarded-for"
            for hop in value.decode("latin-1").split(",")
        ]
        client_host = peer
        # Right to left: each trusted proxy appended the address it saw; the first one that
        # is not a proxy is the client, and anything left of it is the client's own claim.
        for hop in reversed(hops):
            if not hop:
                continue
            host = _host(hop)
            if host is None:
                return peer  # not an address: the proxy is all that is known
            client_host = host
            if not self.is_proxy(host):
                break
        return client_host


def _bearer(authorization: str, params: dict[str, Any]) -> str | None:
    """The bearer token, if that is how the request authenticates; one with userId, token or
    ssid beside it is 1000, as userId+token with an ssid is: which one was meant is a guess."""
    if authorization[:7].lower() != "bearer ":
        return None
    if any(params.get(name) for name in _CREDENTIAL_FIELDS):
        raise InvalidParameters(
            "give one kind of credentials: a bearer token, userId and token, or ssid"
        )
    return authorization[7:].strip()


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
        self.addresses = Addresses(proxy_networks(settings.trusted_proxies))
        # (userId, address) that authenticated, and the addresses a router authenticated from.
        self._known: dict[tuple[str, str], float] = {}
        self._router_at: dict[str, float] = {}

    def address(self, scope: Scope) -> str:
        return self.addresses.of(scope)

    async def admit(
        self, request: Request, params: dict[str, Any], bearer: bool = False
    ) -> Principal:
        """The caller of a rate-limited endpoint, or TooManyRequests / the auth failure.
        bearer: `Authorization: Bearer <token>` is taken too, as the only credentials given."""
        address = self.address(request.scope)
        if self.by_address is not None and (wait := self.by_address.take(address)):
            raise TooManyRequests("Too many requests from this address", wait)
        token = _bearer(request.headers.get("authorization", ""), params) if bearer else None
        if token is not None:
            principal = await self.authenticate_bearer(address, token)
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
                self._remember(self._known, pair, now)
        return principal

    async def authenticate_proxy(
        self, address: str, params: dict[str, Any], authorization: str
    ) -> Principal:
        """How the SIP proxy authenticates (route, callEvent): `Authorization: Bearer <token>`,
        userId+token or ssid, one kind only."""
        token = _bearer(authorization, params)
        try:
            if token is not None:
                principal = await self.authenticate_bearer(address, token)
            else:
                principal = await self.authenticate(address, params)
        except TooManyRequests as locked:
            if not self._recent(self._router_at.get(address)):
                raise
            principal = await self._router_through(locked, address, params, token)
        if principal.role == "router":
            now, pair = self._clock(), (principal.user_id, address)
            if now - self._known.get(pair, -_KNOWN_S) >= _KNOWN_REFRESH_S:
                self._remember(self._known, pair, now)
            if now - self._router_at.get(address, -_KNOWN_S) >= _KNOWN_REFRESH_S:
                self._remember(self._router_at, address, now)
        return principal

    async def _router_through(
        self,
        locked: TooManyRequests,
        address: str,
        params: dict[str, Any],
        token: str | None,
    ) -> Principal:
        """At a locked-out address where a router authenticated: the credentials are checked,
        and only that router's pass; any other answer is the lockout (a failure still counts).
        Guessing goes on only from where the router itself connects."""
        user = None
        try:
            if token is not None:
                principal = await self.accounts.authenticate_bearer(token)
            else:
                creds = Credentials(params.get("userId"), params.get("token"), params.get("ssid"))
                if self.user_failures is not None:
                    user = _user_key(creds.user_id)
                principal = await self.accounts.authenticate(creds)
        except InvalidToken:
            self._failed(address, user)
            raise locked from None
        if principal.role != "router" or not self._is_known(principal.user_id, address):
            raise locked
        return principal

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

    def _remember(self, known: dict[_Key, float], key: _Key, now: float) -> None:
        if len(known) >= MAX_KEYS and key not in known:
            for old in sorted(known, key=known.__getitem__)[: len(known) - MAX_KEYS * 3 // 4]:
                del known[old]  # the longest unseen first
        known[key] = now

    def _recent(self, seen: float | None) -> bool:
        return seen is not None and self._clock() - seen < _KNOWN_S

    def _is_known(self, user: str, address: str) -> bool:
        return self._recent(self._known.get((user, address)))
