"""Who is looking at the console: the session cookie, and the CSRF token every change carries.

The session is an ssid, so it is everything an ssid is: it expires, a token rotation ends it,
the guard's lockouts count a wrong one, and each user holds a bounded number. The cookie is
HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it), scoped to
/console, and Secure when the browser reached us over HTTPS.

Every form that changes something carries a token derived from the ssid (a hash no one can
turn back into it); before sign-in, a random one is set as a cookie and echoed by the form
(double submit), so no other page can sign a browser in to an account of its choosing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from callmask.domain.errors import InvalidToken, PermissionDenied
from callmask.domain.permissions import Permission
from callmask.http import api
from callmask.service.accounts import Principal

COOKIE = "callmask_console"
SIGNIN_COOKIE = "callmask_console_signin"
PATH = "/console"
# The cookie says whether the console made the ssid (sign-in with userId and token), so that
# signing out ends only an ssid the console made, never one a client's integration also uses.
_MADE_HERE, _GIVEN = "c", "u"


@dataclass(frozen=True, slots=True)
class Visitor:
    principal: Principal
    ssid: str
    made_here: bool

    @property
    def csrf(self) -> str:
        return csrf_of(self.ssid)

    def may(self, permission: Permission) -> bool:
        return permission in self.principal.permissions


def csrf_of(secret: str) -> str:
    return hashlib.sha256(b"callmask console csrf\0" + secret.encode()).hexdigest()


def same(given: object, expected: str) -> bool:
    return isinstance(given, str) and hmac.compare_digest(given.encode(), expected.encode())


def secure(request: Request) -> bool:
    """Over HTTPS: uvicorn's own TLS, or a proxy the operator trusts saying so."""
    if request.url.scheme == "https":
        return True
    guard = api.of(request).guard
    client = request.scope.get("client")
    return (
        client is not None
        and guard.addresses.is_proxy(client[0])
        and request.headers.get("x-forwarded-proto", "").lower() == "https"
    )


async def visitor(request: Request) -> Visitor | None:
    """The signed-in client user, or None (no cookie, or one that no longer works)."""
    value = request.cookies.get(COOKIE, "")
    kind, _, ssid = value.partition(".")
    if kind not in (_MADE_HERE, _GIVEN) or not ssid:
        return None
    guard = api.of(request).guard
    try:
        principal = await guard.authenticate(guard.address(request.scope), {"ssid": ssid})
    except InvalidToken:
        return None
    if principal.role != "client":
        return None
    return Visitor(principal, ssid, kind == _MADE_HERE)


async def sign_in(request: Request, params: dict[str, Any]) -> tuple[Visitor, int | None]:
    """Check userId and token (making an ssid for the session) or an ssid; and how many
    seconds the session lasts (None: the given ssid's own life, unknown here)."""
    app = api.of(request)
    principal = await app.guard.admit(request, params)
    if principal.role != "client":
        raise PermissionDenied("the console is for client users; routers only route calls")
    given = params.get("ssid")
    if isinstance(given, str) and given:
        return Visitor(principal, given.strip(), False), None
    ssid, expires_ms = await app.services.accounts.create_ssid(principal)
    lasts = max(0, (expires_ms - app.services.now_ms()) // 1000)
    return Visitor(principal, ssid, True), lasts


def keep(response: Response, request: Request, visitor: Visitor, seconds: int | None) -> None:
    kind = _MADE_HERE if visitor.made_here else _GIVEN
    response.set_cookie(
        COOKIE,
        f"{kind}.{visitor.ssid}",
        max_age=seconds,
        path=PATH,
        secure=secure(request),
        httponly=True,
        samesite="strict",
    )
    response.delete_cookie(SIGNIN_COOKIE, path=PATH)


async def sign_out(request: Request, visitor: Visitor | None, response: Response) -> None:
    if visitor is not None and visitor.made_here:
        await api.of(request).services.accounts.revoke_ssid(visitor.ssid)
    response.delete_cookie(COOKIE, path=PATH, secure=secure(request), httponly=True)


def signin_token(request: Request) -> tuple[str, bool]:
    """The pre-session CSRF token, and whether it is new (to be set as a cookie)."""
    found = request.cookies.get(SIGNIN_COOKIE, "")
    if len(found) == 43:
        return found, False
    return secrets.token_urlsafe(32), True


def offer_signin_token(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        SIGNIN_COOKIE,
        token,
        max_age=3600,
        path=PATH,
        secure=secure(request),
        httponly=True,
        samesite="strict",
    )
