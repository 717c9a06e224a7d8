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
from callmask.http.console.render import page

STATIC = Path(__file__).parent / "static"


async def _missing(request: Request) -> Response:
    visitor = await session.visitor(request)
    return render.problem(request, 404, "Not found", "There is no such console page.", visitor)


def routes() -> list[BaseRoute]:
    listing, call_log = Permission.LIST_MASKING, Permission.LIST_CALL_LOG
    return [
        Mount("/console/static", StaticFiles(directory=STATIC), name="console-static"),
        Route("/console/signin", signin.show, methods=["GET"]),
        Route("/console/signin", signin.submit, methods=["POST"]),
        Route("/console/signout", page(signin.sign_out, changes=True), methods=["POST"]),
        Route("/console", page(overview.show), methods=["GET"]),
        Route("/console/", page(overview.show), methods=["GET"]),
        Route("/console/maskings", page(maskings.search, listing), methods=["GET"]),
        Route("/console/maskings/{masking_id}", page(maskings.show, listing), methods=["GET"]),
        Route(
            "/console/maskings/{masking_id}/unset",
            page(maskings.unset, Permission.SET_MASKING, changes=True),
            methods=["POST"],
        ),
        Route(
            "/console/maskings/{masking_id}/expiry",
            page(maskings.expiry, Permission.SET_MASKING, changes=True),
            methods=["POST"],
        ),
        Route("/console/calls", page(calls.report, call_log), methods=["GET"]),
        Route("/console/calls.csv", page(calls.export, call_log), methods=["GET"]),
        Route(
            "/console/recordings/{recording_id}",
            page(calls.recording, call_log),
            methods=["GET"],
        ),
        Route("/console/numbers", page(numbers.show), methods=["GET"]),
        Route(
            "/console/numbers/add",
            page(numbers.add, Permission.MANAGE_POOL, changes=True),
            methods=["POST"],
        ),
        Route(
            "/console/numbers/remove",
            page(numbers.remove, Permission.MANAGE_POOL, changes=True),
            methods=["POST"],
        ),
        Route(
            "/console/webhooks", page(webhooks.log, Permission.LIST_WEBHOOK_LOG), methods=["GET"]
        ),
        Route("/console/{rest:path}", _missing),
    ]
