"""webhooks/deliveries: the account's webhook delivery log."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from callmask.domain.webhooks import delivery_view
from callmask.http import api, envelope


async def deliveries(request: Request) -> Response:
    app = api.of(request)
    principal, params = await app.admitted(request)
    page = await app.services.webhooks.deliveries(principal, params)
    return envelope.success(
        "Webhook deliveries",
        count=len(page.deliveries),
        nextCursor=page.next_cursor,
        deliveries=[delivery_view(delivery) for delivery in page.deliveries],
    )
