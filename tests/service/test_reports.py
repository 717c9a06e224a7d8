"""The call report's use cases over both backends."""

from __future__ import annotations

import pytest

from callmask.domain.calls import CallEvent
from callmask.domain.masking import Masking
from callmask.domain.numbers import E164
from callmask.domain.permissions import Permission
from callmask.domain.reports import call_view, csv_row
from callmask.service import Services
from callmask.service.accounts import Principal
from callmask.storage.base import Store
from tests.support import EPOCH

pytestmark = pytest.mark.anyio

A, B, X = E164("+919876543210"), E164("+919812345678"), E164("+918040000000")
NOW_MS = int(EPOCH * 1000)
ANALYST = Principal("acme-ops", "acme", "client", frozenset({Permission.LIST_CALL_LOG}))


async def test_a_stored_call_ending_beyond_year_9999_is_listed_with_no_end_time(
    services: Services, store: Store
) -> None:
    # The parser refuses such a ts now; a row stored before it did must not break the report.
    await store.add_pool_numbers("acme", [X], NOW_MS - 60_000)
    async with store.transaction() as tx:
        await tx.insert(Masking("mk-1", "acme", A, B, X, None, NOW_MS - 60_000, NOW_MS + 60_000))
    start = CallEvent("start", "c1", NOW_MS - 1000, "mk-1", X, A, B, action="connect")
    end = CallEvent("end", "c1", 2**53, duration_s=1, sip_status=200)
    for event in (start, end):
        async with store.transaction() as tx:
            await tx.record_call_event(event, NOW_MS)
    page = await services.reports.masklist(ANALYST, {})
    assert [call_view(call)["endTime"] for call in page.calls] == [None]
    _, batches = await services.reports.export(ANALYST, {"format": "csv"})
    rows = [csv_row(call) async for batch in batches for call in batch]
    assert [row[0] for row in rows] == ["c1"] and rows[0][8] == ""
