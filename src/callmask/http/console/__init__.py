"""The web console under /console: server-rendered pages over the same use cases as the API.

Pages follow the signed-in user's permissions and show only its own account, as the API does;
changes are forms carrying a CSRF token (session.py). Charts are drawn in the browser by the
vendored uPlot from figures the page carries as JSON (static/console.js).
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from callmask.domain.permissions import Permission
from callmask.http.console import (
    calls,
    maskings,
    numbers,
    overview,
    render,
    session,
    signin,
    webhooks,
)
from callmask.http.console.render import Handler, page

STATIC = Path(__file__).parent / "static"


async def _missing(request: Request) -> Response:
    visitor = await session.visitor(request)
    return render.problem(request, 404, "Not found", "There is no such console page.", visitor)


def _show(path: str, handler: Handler, needs: Permission | None = None) -> Route:
    return Route(path, page(handler, needs), methods=["GET"])


def _change(path: str, handler: Handler, needs: Permission | None) -> Route:
    """A form's target: refused without the CSRF token (render.page)."""
    return Route(path, page(handler, needs, changes=True), methods=["POST"])


def routes() -> list[BaseRoute]:
    listing, call_log = Permission.LIST_MASKING, Permission.LIST_CALL_LOG
    changing, pool = Permission.SET_MASKING, Permission.MANAGE_POOL
    return [
        Mount("/console/static", StaticFiles(directory=STATIC), name="console-static"),
        Route("/console/signin", signin.show, methods=["GET"]),
        Route("/console/signin", signin.submit, methods=["POST"]),
        _change("/console/signout", signin.sign_out, None),
        _show("/console", overview.show),
        _show("/console/", overview.show),
        _show("/console/maskings", maskings.search, listing),
        _show("/console/maskings/{masking_id}", maskings.show, listing),
        _change("/console/maskings/{masking_id}/unset", maskings.unset, changing),
        _change("/console/maskings/{masking_id}/expiry", maskings.expiry, changing),
        _show("/console/calls", calls.report, call_log),
        _show("/console/calls.csv", calls.export, call_log),
        _show("/console/recordings/{recording_id}", calls.recording, call_log),
        _show("/console/numbers", numbers.show),
        _change("/console/numbers/add", numbers.add, pool),
        _change("/console/numbers/remove", numbers.remove, pool),
        _show("/console/webhooks", webhooks.log, Permission.LIST_WEBHOOK_LOG),
        Route("/console/{rest:path}", _missing),
    ]
