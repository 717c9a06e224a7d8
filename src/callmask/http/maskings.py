"""Masking/set, Masking/unset, Masking/get and Masking/list."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from callmask.domain.masking import Masking
from callmask.domain.reports import masking_view
from callmask.http import api, envelope


def _fields(masking: Masking) -> dict[str, Any]:
    return {
        "maskingId": masking.masking_id,
        "mask": masking.mask,
        "m1": masking.m1,
        "m2": masking.m2,
        "eventId": masking.event_id,
        "expiry_time": masking.expiry_seconds,
        "callTimeLimit": masking.call_time_limit,
        "record": None if masking.record is None else bool(masking.record),
    }


async def set_masking(request: Request) -> Response:
    app = api.of(request)
    principal, params = await app.admitted(request)
    masking = await app.services.maskings.set_masking(
        principal,
        params.get("m1"),
        params.get("m2"),
        params.get("eventId"),
        params.get("expiry_time"),
        params.get("expiry_duration"),
        params.get("callTimeLimit"),
        params.get("record"),
    )
    return envelope.success("Masking set successfully", **_fields(masking))


async def unset_masking(request: Request) -> Response:
    app = api.of(request)
    principal, params = await app.admitted(request)
    changed = await app.services.maskings.unset_masking(
        principal,
        params.get("m1"),
        params.get("m2"),
        params.get("mask"),
        params.get("expiry_time"),
        params.get("expiry_duration"),
    )
    return envelope.success(
        "Masking unset successfully",
        count=len(changed),
        maskings=[_fields(masking) for masking in changed],
    )


async def get_maskings(request: Request) -> Response:
    app = api.of(request)
    principal, params = await app.admitted(request)
    reports = app.services.reports
    found = await reports.get_maskings(principal, params)
    now_ms = reports.now_ms()
    return envelope.success(
        "Masking found",
        count=len(found),
        maskings=[masking_view(record, now_ms) for record in found],
    )


async def list_maskings(request: Request) -> Response:
    app = api.of(request)
    principal, params = await app.admitted(request)
    page = await app.services.reports.list_maskings(principal, params)
    return envelope.success(
        "Masking list",
        count=len(page.maskings),
        nextCursor=page.next_cursor,
        maskings=[masking_view(record, page.now_ms) for record in page.maskings],
    )
