"""Webhooks: the delivery log with each attempt's outcome, and what waits to be sent."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from callmask.domain.webhooks import KINDS, OUTCOMES, delivery_view
from callmask.http import api
from callmask.http.console import render
from callmask.http.console.session import Visitor

PAGE = 50


async def log(request: Request, visitor: Visitor, params: dict[str, Any]) -> Response:
    services = api.of(request).services
    account = visitor.principal.account_id
    form = {
        name: params[name]
        for name, allowed in (("type", KINDS), ("outcome", OUTCOMES))
        if params.get(name) in allowed
    }
    query: dict[str, Any] = {**form, "limit": PAGE}
    if params.get("cursor"):
        query["cursor"] = params["cursor"]
    found = await services.webhooks.deliveries(visitor.principal, query)
    webhook = await services.webhooks.webhook(account)
    counts = await services.webhooks.counts(account)
    return render.html(
        request,
        "webhooks.html",
        {
            "rows": [delivery_view(d) for d in found.deliveries],
            "webhook": webhook,
            "counts": counts,
            "form": form,
            "kinds": KINDS,
            "outcomes": OUTCOMES,
            "next_query": urlencode({**form, "cursor": found.next_cursor or ""}),
            "next_cursor": found.next_cursor,
        },
        visitor=visitor,
    )
