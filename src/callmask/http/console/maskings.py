"""Maskings: search, one masking with its calls, ending one or changing its expiry."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from callmask.domain.errors import InvalidParameters, MaskingError
from callmask.domain.masking import MaskingRecord
from callmask.domain.permissions import Permission
from callmask.domain.reports import MAX_WINDOW_MS, masking_view
from callmask.http import api
from callmask.http.console import render
from callmask.http.console.session import Visitor

# The search box's kinds, and the query parameter of Masking/list each one is.
SEARCH = {"number": "party", "did": "mask", "eventId": "eventId", "maskingId": "maskingId"}
STATUSES = ("all", "active", "ended")
PAGE = 50


def utc_instant(value: object) -> str | None:
    """A datetime-local field's value, read as UTC (the console shows every time in UTC)."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    return text if text.endswith("Z") or "+" in text[10:] else text + "Z"


async def search(request: Request, visitor: Visitor, params: dict[str, Any]) -> Response:
    by = str(params.get("by")) if params.get("by") in SEARCH else "number"
    status = str(params.get("status")) if params.get("status") in STATUSES else "all"
    text = params.get("q", "").strip()
    query: dict[str, Any] = {"status": status, "limit": PAGE}
    if text:
        query[SEARCH[by]] = text
    if params.get("cursor"):
        query["cursor"] = params["cursor"]
    found = await api.of(request).services.reports.list_maskings(visitor.principal, query)
    return render.html(
        request,
        "maskings.html",
        {
            "rows": [masking_view(record, found.now_ms) for record in found.maskings],
            "next_cursor": found.next_cursor,
            "by": by,
            "q": text,
            "status": status,
            "kinds": SEARCH,
            "statuses": STATUSES,
        },
        visitor=visitor,
    )


async def _record(request: Request, visitor: Visitor) -> MaskingRecord:
    wanted = request.path_params["masking_id"]
    found = await api.of(request).services.reports.get_maskings(
        visitor.principal, {"maskingId": wanted}
    )
    return found[0]


async def show(
    request: Request, visitor: Visitor, params: dict[str, Any], error: str | None = None
) -> Response:
    services = api.of(request).services
    record = await _record(request, visitor)
    now_ms = services.now_ms()
    view = masking_view(record, now_ms)
    calls: list[dict[str, Any]] | None = None
    if visitor.may(Permission.LIST_CALL_LOG):
        ended = record.ended(now_ms)
        end_ms = min(now_ms, ended[0] if ended else now_ms) + 1
        start_ms = max(record.masking.created_ms, end_ms - MAX_WINDOW_MS)
        page = await services.reports.masklist(
            visitor.principal,
            {
                "maskingId": record.masking.masking_id,
                "startTime": start_ms,
                "endTime": end_ms,
                "limit": 100,
            },
        )
        calls = [
            {"call": call, "recording": page.recordings.get(call.call_id)} for call in page.calls
        ]
    return render.html(
        request,
        "masking.html",
        {
            "m": view,
            "calls": calls,
            "csrf": visitor.csrf,
            "may_change": visitor.may(Permission.SET_MASKING),
            "error": error,
        },
        status=400 if error else 200,
        visitor=visitor,
    )


async def _change(
    request: Request, visitor: Visitor, expiry_time: object, expiry_duration: object
) -> int:
    record = await _record(request, visitor)
    m = record.masking
    if record.ended(api.of(request).services.now_ms()) is not None:
        raise InvalidParameters("this masking has already ended")
    changed = await api.of(request).services.maskings.unset_masking(
        visitor.principal, m.m1, m.m2, m.mask, expiry_time, expiry_duration
    )
    return len(changed)


async def unset(request: Request, visitor: Visitor, params: dict[str, Any]) -> Response:
    await _change(request, visitor, None, None)
    return render.back(f"/console/maskings/{request.path_params['masking_id']}", "unset")


async def expiry(request: Request, visitor: Visitor, params: dict[str, Any]) -> Response:
    until = utc_instant(params.get("until"))
    minutes = params.get("minutes") or None
    if until is None and minutes is None:
        return await show(request, visitor, {}, "Give the new expiry: a time, or minutes from now.")
    try:
        await _change(request, visitor, until, None if until else minutes)
    except MaskingError as error:
        return await show(request, visitor, {}, error.detail)
    return render.back(f"/console/maskings/{request.path_params['masking_id']}", "expiry")
