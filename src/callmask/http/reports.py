"""Endpoints that look back: the call report (JSON or CSV), masking queries, the delivery log."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from callmask.accounts import Principal
from callmask.domain.calls import CallRecord
from callmask.domain.reports import (
    CSV_COLUMNS,
    CallQuery,
    call_view,
    csv_row,
    export_format,
    iso,
    masking_view,
)
from callmask.domain.webhooks import delivery_view
from callmask.http import envelope
from callmask.http.body import parameters
from callmask.http.guard import Guard
from callmask.reports import Reports
from callmask.webhooks import Webhooks

log = logging.getLogger("callmask.http")


async def _csv(batches: AsyncIterator[list[CallRecord]]) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    try:
        async for batch in batches:
            writer.writerows(csv_row(record) for record in batch)
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    except Exception as error:
        # Headers are out: breaking the connection is how the client learns it is cut short.
        log.warning("call report export stopped: %s", type(error).__name__)
        raise


def _filename(query: CallQuery) -> str:
    def stamp(ms: int) -> str:
        return (iso(ms) or "").replace(":", "").replace("-", "").split(".")[0]

    return f"masklist-{stamp(query.start_ms)}-{stamp(query.end_ms)}.csv"


class ReportApi:
    def __init__(self, reports: Reports, webhooks: Webhooks, limit: int, guard: Guard):
        self.reports = reports
        self.webhooks = webhooks
        self.limit = limit
        self.guard = guard

    async def _request(self, request: Request) -> tuple[Principal, dict[str, Any]]:
        params = await parameters(request, self.limit)
        return await self.guard.admit(request, params), params

    async def masklist(self, request: Request) -> Response:
        principal, params = await self._request(request)
        if export_format(params) == "csv":
            query, batches = await self.reports.export(principal, params)
            headers = {
                **envelope.HEADERS,
                "Content-Disposition": f'attachment; filename="{_filename(query)}"',
            }
            return StreamingResponse(
                _csv(batches), media_type="text/csv; charset=utf-8", headers=headers
            )
        page = await self.reports.masklist(principal, params)
        return envelope.success(
            "Masked call list",
            count=len(page.calls),
            startTime=iso(page.query.start_ms),
            endTime=iso(page.query.end_ms),
            nextCursor=page.next_cursor,
            calls=[call_view(record) for record in page.calls],
        )

    async def masking_get(self, request: Request) -> Response:
        principal, params = await self._request(request)
        found = await self.reports.get_maskings(principal, params)
        now_ms = self.reports.now_ms()
        return envelope.success(
            "Masking found",
            count=len(found),
            maskings=[masking_view(record, now_ms) for record in found],
        )

    async def masking_list(self, request: Request) -> Response:
        principal, params = await self._request(request)
        page = await self.reports.list_maskings(principal, params)
        return envelope.success(
            "Masking list",
            count=len(page.maskings),
            nextCursor=page.next_cursor,
            maskings=[masking_view(record, page.now_ms) for record in page.maskings],
        )

    async def deliveries(self, request: Request) -> Response:
        principal, params = await self._request(request)
        page = await self.webhooks.deliveries(principal, params)
        return envelope.success(
            "Webhook deliveries",
            count=len(page.deliveries),
            nextCursor=page.next_cursor,
            deliveries=[delivery_view(delivery) for delivery in page.deliveries],
        )
