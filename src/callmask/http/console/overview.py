"""The overview: the account's figures now, and its pool pressure over time."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from callmask.domain.permissions import Permission
from callmask.http import api
from callmask.http.console import render
from callmask.http.console.session import Visitor
from callmask.service.insights import PRESSURE_WINDOWS

WINDOWS = {24: "24 hours", 168: "7 days", 720: "30 days"}


async def show(request: Request, visitor: Visitor, params: dict[str, Any]) -> Response:
    wanted = params.get("hours", "24")
    hours = int(wanted) if wanted.isdigit() and int(wanted) in PRESSURE_WINDOWS else 24
    view = await api.of(request).services.insights.overview(visitor.principal, hours)
    drawn = view.pressure
    buckets = drawn.buckets
    # One more point, a window ahead, carries the projection; the history stops at now.
    starts = buckets.starts()
    ahead = buckets.end_ms + (buckets.end_ms - buckets.start_ms)
    chart = {
        "x": [ms // 1000 for ms in starts] + [ahead // 1000],
        "busiest": [*drawn.busiest, None],
        "pool": [view.pool_numbers] * (len(starts) + 1),
        "refusals": [*drawn.refusals, None],
        "projected": [None] * (len(starts) - 1) + [drawn.busiest[-1], drawn.projected],
    }
    headroom = view.pool_numbers - view.busiest_party
    return render.html(
        request,
        "overview.html",
        {
            "view": view,
            "hours": hours,
            "windows": WINDOWS,
            "chart": chart,
            "headroom": headroom,
            "calls_shown": visitor.may(Permission.LIST_CALL_LOG),
        },
        visitor=visitor,
    )
