"""Calls: the masked-call report with its filters and charts, its CSV, and recordings."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse

from callmask.domain.reports import CALL_STATUSES
from callmask.domain.trends import DURATION_LABELS, HOUR_MS
from callmask.http import api
from callmask.http.console import render
from callmask.http.console.maskings import utc_instant
from callmask.http.console.session import Visitor
from callmask.http.reports import csv_stream, filename

PAGE = 50
# The form's fields that pass through to the report as they are.
_PLAIN = ("party", "mask", "eventId", "maskingId", "minDuration", "maxDuration")


def _query(params: dict[str, Any]) -> dict[str, Any]:
    """The report's parameters from the filter form (times in UTC)."""
    query: dict[str, Any] = {
        name: params[name].strip() for name in _PLAIN if params.get(name, "").strip()
    }
    for field, name in (("from", "startTime"), ("to", "endTime")):
        if (instant := utc_instant(params.get(field))) is not None:
            query[name] = instant
    if params.get("status") in CALL_STATUSES:
        query["status"] = params["status"]
    return query


def _form(params: dict[str, Any]) -> dict[str, str]:
    kept = ("from", "to", "status", *_PLAIN)
    return {name: params[name] for name in kept if params.get(name)}


async def report(request: Request, visitor: Visitor, params: dict[str, Any]) -> Response:
    services = api.of(request).services
    query = _query(params)
    page = await services.reports.masklist(
        visitor.principal,
        {**query, "limit": PAGE, **({"cursor": params["cursor"]} if params.get("cursor") else {})},
    )
    drawn = await services.insights.call_trends(visitor.principal, query)
    hourly = drawn.buckets.step_ms == HOUR_MS
    chart = {
        "x": [ms // 1000 for ms in drawn.buckets.starts()],
        "calls": drawn.calls,
        "answered": drawn.answered,
        "rate": drawn.answer_rate,
        "durations": drawn.durations,
        "durationLabels": list(DURATION_LABELS),
        "per": "hour" if hourly else "day",
    }
    form = _form(params)
    return render.html(
        request,
        "calls.html",
        {
            "page": page,
            "rows": [
                {"call": call, "recording": page.recordings.get(call.call_id)}
                for call in page.calls
            ],
            "trends": drawn,
            "chart": chart,
            "form": form,
            "statuses": CALL_STATUSES,
            "csv_query": urlencode(form),
            "next_query": urlencode({**form, "cursor": page.next_cursor or ""}),
        },
        visitor=visitor,
    )


async def export(request: Request, visitor: Visitor, params: dict[str, Any]) -> Response:
    query, batches = await api.of(request).services.reports.export(
        visitor.principal, _query(params)
    )
    headers = {
        **render.HEADERS,
        "Content-Disposition": f'attachment; filename="{filename(query)}"',
    }
    return StreamingResponse(
        csv_stream(batches), media_type="text/csv; charset=utf-8", headers=headers
    )


async def recording(request: Request, visitor: Visitor, params: dict[str, Any]) -> Response:
    found, path = await api.of(request).services.recordings.download(
        visitor.principal, {"id": request.path_params["recording_id"]}
    )
    headers = {
        **render.HEADERS,
        "Content-Disposition": f'inline; filename="{found.recording_id}.wav"',
    }
    return FileResponse(path, media_type="audio/wav", headers=headers)
