"""callreport/masklist: the masked-call report, as JSON pages or one CSV download."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse

from callmask.domain.calls import CallRecord
from callmask.domain.recordings import Recording, recording_view
from callmask.domain.reports import CSV_COLUMNS, CallQuery, call_view, csv_row, export_format, iso
from callmask.http import api, envelope

log = logging.getLogger("callmask.http")


async def csv_stream(batches: AsyncIterator[list[CallRecord]]) -> AsyncIterator[bytes]:
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


def filename(query: CallQuery) -> str:
    def stamp(ms: int) -> str:
        return (iso(ms) or "").replace(":", "").replace("-", "").split(".")[0]

    return f"masklist-{stamp(query.start_ms)}-{stamp(query.end_ms)}.csv"


async def masklist(request: Request) -> Response:
    app = api.of(request)
    principal, params = await app.admitted(request)
    reports = app.services.reports
    if export_format(params) == "csv":
        query, batches = await reports.export(principal, params)
        headers = {
            **envelope.HEADERS,
            "Content-Disposition": f'attachment; filename="{filename(query)}"',
        }
        return StreamingResponse(
            csv_stream(batches), media_type="text/csv; charset=utf-8", headers=headers
        )
    page = await reports.masklist(principal, params)
    return envelope.success(
        "Masked call list",
        count=len(page.calls),
        startTime=iso(page.query.start_ms),
        endTime=iso(page.query.end_ms),
        nextCursor=page.next_cursor,
        calls=[_with_recording(record, page.recordings) for record in page.calls],
    )


def _with_recording(record: CallRecord, recordings: dict[str, Recording]) -> dict[str, object]:
    found = recordings.get(record.call_id)
    return {**call_view(record), "recording": None if found is None else recording_view(found)}


async def recording(request: Request) -> Response:
    """callreport/recording?id=...: a recorded call's audio (WAV), for the call's account."""
    app = api.of(request)
    # A Bearer token too: a page or an app fetching the audio need not put the token in a URL.
    principal, params = await app.admitted(request, bearer=True)
    found, path = await app.services.recordings.download(principal, params)
    headers = {
        **envelope.HEADERS,
        "Content-Disposition": f'attachment; filename="{found.recording_id}.wav"',
        "Cache-Control": "private, no-store",
    }
    return FileResponse(path, media_type="audio/wav", headers=headers)
