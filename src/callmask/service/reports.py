"""Use cases of looking back: the call report (DeepCall's masklist) and the masking queries.

Every query is scoped to the caller's account by the statement itself: no parameter, cursor
or id can name another account's rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from callmask.domain import reports
from callmask.domain.calls import CallRecord
from callmask.domain.errors import InvalidParameters
from callmask.domain.masking import MaskingRecord
from callmask.domain.paging import Cursor, cut, widened
from callmask.domain.permissions import Permission
from callmask.domain.recordings import Recording
from callmask.domain.reports import CallQuery
from callmask.service.accounts import Principal, permit
from callmask.service.context import Context, storage_failures
from callmask.storage.base import StorageUnavailable

# The CSV export reads the whole window this many calls at a time.
EXPORT_BATCH = 1000


@dataclass(frozen=True, slots=True)
class CallPage:
    query: CallQuery
    calls: list[CallRecord]
    next_cursor: str | None
    # The recordings of the calls on this page that have one, by call id.
    recordings: dict[str, Recording] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MaskingPage:
    maskings: list[MaskingRecord]
    next_cursor: str | None
    now_ms: int


def _call_position(call: CallRecord) -> Cursor | None:
    return None if call.started_ms is None else Cursor(call.started_ms, call.call_id)


def _masking_position(record: MaskingRecord) -> Cursor:
    return Cursor(record.masking.created_ms, record.masking.masking_id)


class Reports:
    def __init__(self, context: Context) -> None:
        self._context = context
        self._store = context.store
        self._region = context.settings.default_region
        self.now_ms = context.now_ms

    def _call_query(self, principal: Principal, params: Mapping[str, Any]) -> CallQuery:
        permit(principal, Permission.LIST_CALL_LOG)
        return reports.call_query(params, principal.account_id, self.now_ms(), self._region)

    async def _calls(self, query: CallQuery) -> CallPage:
        """Up to the page's limit, and a cursor when there are more."""
        with storage_failures():
            found = await self._store.calls_page(
                dataclasses.replace(query, page=widened(query.page))
            )
        return CallPage(query, *cut(found, query.page, _call_position))

    async def masklist(self, principal: Principal, params: Mapping[str, Any]) -> CallPage:
        page = await self._calls(self._call_query(principal, params))
        with storage_failures(StorageUnavailable):
            found = await self._store.recordings_of([call.call_id for call in page.calls])
        return dataclasses.replace(page, recordings=found)

    async def export(
        self, principal: Principal, params: Mapping[str, Any]
    ) -> tuple[CallQuery, AsyncIterator[list[CallRecord]]]:
        """Every call the filters match (limit ignored), read in batches as it is sent.

        The first batch is read here, so an error still becomes an envelope; one later on
        can only end the download early.
        """
        query = self._call_query(principal, params)
        query = dataclasses.replace(query, page=dataclasses.replace(query.page, limit=EXPORT_BATCH))
        first = await self._calls(query)

        async def batches() -> AsyncIterator[list[CallRecord]]:
            page = first
            yield page.calls
            while page.next_cursor is not None:
                after = Cursor.decode(page.next_cursor)
                page = await self._calls(
                    dataclasses.replace(query, page=dataclasses.replace(query.page, after=after))
                )
                yield page.calls

        return query, batches()

    async def get_maskings(
        self, principal: Principal, params: Mapping[str, Any]
    ) -> list[MaskingRecord]:
        """Masking/get: the account's maskings with that maskingId or eventId; 1000 if none."""
        permit(principal, Permission.LIST_MASKING)
        query = reports.masking_lookup(params, principal.account_id, self.now_ms())
        with storage_failures():
            found = await self._store.maskings_page(query)
        if not found:
            raise InvalidParameters("no masking of this account has that maskingId or eventId")
        return found

    async def list_maskings(self, principal: Principal, params: Mapping[str, Any]) -> MaskingPage:
        permit(principal, Permission.LIST_MASKING)
        now_ms = self.now_ms()
        query = reports.masking_query(params, principal.account_id, now_ms, self._region)
        with storage_failures():
            found = await self._store.maskings_page(
                dataclasses.replace(query, page=widened(query.page))
            )
        return MaskingPage(*cut(found, query.page, _masking_position), now_ms)
