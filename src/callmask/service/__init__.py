"""The use cases, one group per noun, each composed from the same Context."""

from __future__ import annotations

from dataclasses import dataclass

from callmask.service.accounts import Accounts
from callmask.service.context import Context
from callmask.service.health import Health
from callmask.service.insights import Insights
from callmask.service.maskings import Maskings
from callmask.service.pool import Pool
from callmask.service.recordings import Recordings
from callmask.service.reports import Reports
from callmask.service.retention import Retention
from callmask.service.routing import Routing
from callmask.service.rules import Rules
from callmask.service.webhooks import Webhooks


@dataclass(frozen=True, slots=True)
class Services:
    context: Context
    accounts: Accounts
    maskings: Maskings
    routing: Routing
    rules: Rules
    pool: Pool
    reports: Reports
    webhooks: Webhooks
    retention: Retention
    recordings: Recordings
    health: Health
    insights: Insights

    @classmethod
    def of(cls, context: Context) -> Services:
        return cls(
            context,
            Accounts(context),
            Maskings(context),
            Routing(context),
            Rules(context),
            Pool(context),
            Reports(context),
            Webhooks(context),
            Retention(context),
            Recordings(context),
            Health(context),
            Insights(context),
        )

    def now_ms(self) -> int:
        return self.context.now_ms()
