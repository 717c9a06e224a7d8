"""Signing in (userId and token, or an ssid) and out."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from callmask.domain.errors import InvalidToken, MaskingError, PermissionDenied, TooManyRequests
from callmask.http import api
from callmask.http.body import parameters
from callmask.http.console import render, session
from callmask.http.console.session import Visitor


def _form(request: Request, status: int = 200, error: str | None = None) -> Response:
    token, new = session.signin_token(request)
    response = render.html(request, "signin.html", {"csrf": token, "error": error}, status)
    if new:
        session.offer_signin_token(response, request, token)
    return response


async def show(request: Request) -> Response:
    if await session.visitor(request) is not None:
        return RedirectResponse("/console", status_code=303, headers=render.HEADERS)
    return _form(request)


async def submit(request: Request) -> Response:
    try:
        params = await parameters(request, api.of(request).body_limit)
        expected = request.cookies.get(session.SIGNIN_COOKIE, "")
        if not expected or not session.same(params.get("csrf"), expected):
            return _form(request, 403, "The sign-in form expired; please try again.")
        credentials = {
            name: params[name] for name in ("userId", "token", "ssid") if params.get(name)
        }
        visitor, lasts = await session.sign_in(request, credentials)
    except MaskingError as error:
        if isinstance(error, TooManyRequests):
            status = 429
        elif isinstance(error, InvalidToken | PermissionDenied):
            status = 401
        else:
            status = 400
        return _form(request, status, error.detail)
    response = RedirectResponse("/console", status_code=303, headers=render.HEADERS)
    session.keep(response, request, visitor, lasts)
    return response


async def sign_out(request: Request, visitor: Visitor, params: dict[str, Any]) -> Response:
    response = render.back("/console/signin", "signedout")
    await session.sign_out(request, visitor, response)
    return response
