"""Use cases of the console's figures: how an account's pool, maskings and calls are doing.

Each figure is read for the caller's own account only, and the call figures only for a user
who may read the call report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from callmask.domain import reports, trends
from callmask.domain.errors import PermissionDenied
from callmask.domain.permissions import Permission
from callmask.domain.trends import HOUR_MS, Buckets, CallTrends, Pressure
from callmask.service.accounts import Principal, permit
from callmask.service.context import Context, storage_failures

DAY_MS = 24 * HOUR_MS
# The pressure chart's windows a user may pick, in hours, and the bucket each is cut into.
PRESSURE_WINDOWS = {24: 15 * 60_000, 168: HOUR_MS, 720: 6 * HOUR_MS}


@dataclass(frozen=True, slots=True)
class Overview:
    pool_numbers: int
    active_maskings: int
    busiest_party: int
    maskings_today: int
    # None for a user who may not read the call report.
    calls_today: int | None
    refusals_24h: int
    pressure: Pressure
    now_ms: int


def _client(principal: Principal) -> None:
    if principal.role != "client":
        raise PermissionDenied("the console is for client users")


class Insights:
    def __init__(self, context: Context) -> None:
        self._context = context
        self._store = context.store
        self._region = context.settings.default_region
        self._longest_ms = context.settings.max_expiry_minutes * 60_000

    async def overview(self, principal: Principal, hours: int = 24) -> Overview:
        _client(principal)
        step = PRESSURE_WINDOWS.get(hours)
        if step is None:
            raise ValueError(f"no pressure window of {hours} hours")
        account = principal.account_id
        now_ms = self._context.now_ms()
        # Buckets end at the next step boundary, so a reload keeps them where they were.
        end_ms = now_ms - now_ms % step + step
        buckets = Buckets(end_ms - hours * HOUR_MS, end_ms, step)
        midnight = now_ms - now_ms % DAY_MS
        with storage_failures():
            figures = [p for p in await self._store.pressure(now_ms) if p.account_id == account]
            spans = await self._store.masking_spans(
                account, buckets.start_ms, now_ms, buckets.start_ms - self._longest_ms
            )
            refused = await self._store.refusals(account, min(buckets.start_ms, now_ms - DAY_MS))
            today = await self._store.maskings_since(account, midnight)
            calls = (
                await self._store.calls_since(account, midnight)
                if Permission.LIST_CALL_LOG in principal.permissions
                else None
            )
        # A span still live runs to its expiry; the chart stops at now.
        spans = [(m1, m2, start, min(stop, now_ms + 1)) for m1, m2, start, stop in spans]
        drawn = trends.pressure(spans, refused, buckets)
        pool = figures[0] if figures else None
        return Overview(
            pool.pool_numbers if pool else 0,
            pool.active_maskings if pool else 0,
            pool.busiest_party_maskings if pool else 0,
            today,
            calls,
            # By the hour: the hour 24 hours ago counts whole.
            sum(count for hour_ms, count in refused if hour_ms > now_ms - DAY_MS - HOUR_MS),
            drawn,
            now_ms,
        )

    async def call_trends(self, principal: Principal, params: Mapping[str, Any]) -> CallTrends:
        """The report's window (and only its window: the other filters are the report's) in
        hourly buckets, or daily ones beyond three days."""
        permit(principal, Permission.LIST_CALL_LOG)
        now_ms = self._context.now_ms()
        query = reports.call_query(params, principal.account_id, now_ms, self._region)
        span = query.end_ms - query.start_ms
        step = HOUR_MS if span <= 3 * DAY_MS else DAY_MS
        buckets = Buckets(query.start_ms, query.end_ms, step)
        with storage_failures():
            facts = await self._store.call_facts(principal.account_id, query.start_ms, query.end_ms)
        return trends.call_trends(facts, buckets)
