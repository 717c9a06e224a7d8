"""Use cases of looking back: the call report (DeepCall's masklist) and the masking queries.

Every query is scoped to the caller's account by the statement itself: no parameter, cursor
or id can name another account's rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from callmask.accounts import Principal, permit
from callmask.domain import reports
from callmask.domain.calls import CallRecord
from callmask.domain.errors import DatabaseUnavailable, InvalidParameters
from callmask.domain.masking import MaskingRecord
from callmask.domain.permissions import Permission
from callmask.domain.reports import CallQuery, Cursor
from callmask.storage.base import StorageUnavailable, WriteFailed
from callmask.usecase import UseCases

# The CSV export reads the whole window this many calls at a time.
EXPORT_BATCH = 1000


@dataclass(frozen=True, slots=True)
class CallPage:
    query: CallQuery
    calls: list[CallRecord]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class MaskingPage:
    maskings: list[MaskingRecord]
    next_cursor: str | None
    now_ms: int


class Reports(UseCases):
    def _call_query(self, principal: Principal, params: Mapping[str, Any]) -> CallQuery:
        permit(principal, Permission.LIST_CALL_LOG)
        region = self.settings.default_region
        return reports.call_query(params, principal.account_id, self.now_ms(), region)

    async def _calls(self, query: CallQuery) -> CallPage:
        """Up to the page's limit, and a cursor when there are more."""
        wider = dataclasses.replace(query.page, limit=query.page.limit + 1)
        try:
            found = await self.store.calls_page(dataclasses.replace(query, page=wider))
        except (StorageUnavailable, WriteFailed) as error:
            raise DatabaseUnavailable() from error
        calls = found[: query.page.limit]
        more = len(found) > query.page.limit
        last = calls[-1] if calls else None
        cursor = None
        if more and last is not None and last.started_ms is not None:
            cursor = Cursor(last.started_ms, last.call_id).encode()
        return CallPage(query, calls, cursor)

    async def masklist(self, principal: Principal, params: Mapping[str, Any]) -> CallPage:
        return await self._calls(self._call_query(principal, params))

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
        try:
            found = await self.store.maskings_page(query)
        except (StorageUnavailable, WriteFailed) as error:
            raise DatabaseUnavailable() from error
        if not found:
            raise InvalidParameters("no masking of this account has that maskingId or eventId")
        return found

    async def list_maskings(self, principal: Principal, params: Mapping[str, Any]) -> MaskingPage:
        permit(principal, Permission.LIST_MASKING)
        now_ms = self.now_ms()
        region = self.settings.default_region
        query = reports.masking_query(params, principal.account_id, now_ms, region)
        wider = dataclasses.replace(query.page, limit=query.page.limit + 1)
        try:
            found = await self.store.maskings_page(dataclasses.replace(query, page=wider))
        except (StorageUnavailable, WriteFailed) as error:
            raise DatabaseUnavailable() from error
        maskings = found[: query.page.limit]
        cursor = None
        if len(found) > query.page.limit:
            last = maskings[-1].masking
            cursor = Cursor(last.created_ms, last.masking_id).encode()
        return MaskingPage(maskings, cursor, now_ms)
