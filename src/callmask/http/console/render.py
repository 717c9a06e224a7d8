"""How every console page is answered: who may see it, its headers, its forms and errors.

A page handler gets the signed-in visitor; `page` turns no session into the sign-in page, a
missing permission into a 403 page, a change without its CSRF token into a 403 page, and any
error into a page that says what went wrong (never a stack trace, never a phone number in a
log line).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from callmask.domain.errors import DatabaseUnavailable, MaskingError, TooManyRequests
from callmask.domain.permissions import Permission
from callmask.http import api
from callmask.http.body import parameters
from callmask.http.console import session
from callmask.http.console.session import Visitor

log = logging.getLogger("callmask.http")

TEMPLATES = Path(__file__).parent / "templates"
HEADERS = {
    # Scripts and styles only from the console's own files (the chart library is vendored);
    # no frames, no plugins, forms post only here.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
        " media-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none';"
        " base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    # Pages hold the account's numbers: no shared cache keeps them, no back button shows them
    # after sign-out.
    "Cache-Control": "no-store",
}
# What a change says once done, by the key its redirect carries (no text from a URL is shown).
DONE = {
    "unset": "The masking was ended.",
    "expiry": "The masking's expiry was changed.",
    "added": "Numbers were added to the pool.",
    "removed": "Numbers were removed from the pool.",
    "signedout": "You are signed out.",
}
NAV = (
    ("overview", "/console", "Overview", None),
    ("maskings", "/console/maskings", "Maskings", Permission.LIST_MASKING),
    ("calls", "/console/calls", "Calls", Permission.LIST_CALL_LOG),
    ("numbers", "/console/numbers", "Numbers", None),
    ("webhooks", "/console/webhooks", "Webhooks", Permission.LIST_WEBHOOK_LOG),
)

Handler = Callable[[Request, Visitor, dict[str, Any]], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


def _utc(ms: int | None) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _seconds(seconds: int | None) -> str:
    return "" if seconds is None else _utc(seconds * 1000)


def _iso(text: str | None) -> str:
    """An ISO 8601 instant (as the API writes it) shown as the other times are."""
    if not text:
        return ""
    return datetime.fromisoformat(text).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


environment = Environment(
    loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True)
)
environment.filters["utc"] = _utc
environment.filters["utc_s"] = _seconds
environment.filters["iso"] = _iso


def html(
    request: Request,
    template: str,
    context: dict[str, Any],
    status: int = 200,
    visitor: Visitor | None = None,
) -> HTMLResponse:
    nav = [
        (key, href, label)
        for key, href, label, needs in NAV
        if visitor is not None and (needs is None or visitor.may(needs))
    ]
    done = DONE.get(request.query_params.get("done", ""))
    body = environment.get_template(template).render(
        request=request, visitor=visitor, nav=nav, done=done, **context
    )
    return HTMLResponse(body, status_code=status, headers=HEADERS)


def problem(
    request: Request, status: int, title: str, detail: str, visitor: Visitor | None = None
) -> HTMLResponse:
    return html(request, "problem.html", {"title": title, "detail": detail}, status, visitor)


def refused(request: Request, error: MaskingError, visitor: Visitor | None) -> HTMLResponse:
    """A service's refusal as a page: its code and its words, as the API would say them."""
    if isinstance(error, TooManyRequests):
        status = 429
    elif isinstance(error, DatabaseUnavailable):
        status = 503
    else:
        status = 400
    response = problem(request, status, f"Error {int(error.code)}", error.detail, visitor)
    if isinstance(error, TooManyRequests):
        response.headers["Retry-After"] = str(max(1, round(error.retry_after_s)))
    return response


def back(url: str, done: str) -> RedirectResponse:
    joiner = "&" if "?" in url else "?"
    return RedirectResponse(f"{url}{joiner}done={done}", status_code=303, headers=HEADERS)


def page(handler: Handler, needs: Permission | None = None, changes: bool = False) -> Endpoint:
    """handler(request, visitor, params): params are the query (a page) or the checked form
    (a change)."""

    async def run(request: Request) -> Response:
        visitor = None
        try:
            visitor = await session.visitor(request)
            if visitor is None:
                if changes:
                    return problem(request, 403, "Signed out", "Sign in again, then retry.")
                return RedirectResponse("/console/signin", status_code=303, headers=HEADERS)
            if needs is not None and not visitor.may(needs):
                return problem(
                    request,
                    403,
                    "Not allowed",
                    f"This page needs the {needs.value} permission, which your user lacks.",
                    visitor,
                )
            if changes:
                try:
                    params = await parameters(request, api.of(request).body_limit)
                except MaskingError:
                    params = {}  # an empty or unreadable form carries no token either
                if not session.same(params.get("csrf"), visitor.csrf):
                    return problem(
                        request,
                        403,
                        "Refused",
                        "The form's security token is missing or wrong; reload the page.",
                        visitor,
                    )
            else:
                params = dict(request.query_params)
            return await handler(request, visitor, params)
        except MaskingError as error:
            return refused(request, error, visitor)
        except Exception as error:
            log.error("console page failed: %s", type(error).__name__)
            return problem(request, 500, "Something went wrong", "Try again later.", visitor)

    return run
