"""Masking/callEvent: a call event the SIP proxy posts when its Redis queue is unreachable.

The body is the event exactly as the proxy would have pushed it (a JSON object, whatever the
Content-Type); the credentials come in the query string or as a bearer token, as for route.
It is stored at once through the same use case as the queue's consumer, so posting an event
the consumer also stores, or posting it twice, changes nothing. Unlike a queued event, a
refused one is kept nowhere: the answer's code tells the proxy whether it was stored
(docs/decisions.md, "Call events: the queue, the HTTP fallback, and what can be lost").
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from callmask.domain.errors import DatabaseUnavailable, InvalidParameters, InvalidRequestData
from callmask.http import api, envelope
from callmask.http.body import read_body

log = logging.getLogger("callmask.events")


async def call_event(request: Request) -> Response:
    app = api.of(request)
    raw = await read_body(request, app.body_limit)
    principal = await app.guard.authenticate_proxy(
        app.guard.address(request.scope),
        dict(request.query_params),
        request.headers.get("authorization", ""),
    )
    try:
        event = await app.services.routing.report_call_event(principal, raw)
    except (InvalidParameters, InvalidRequestData) as error:
        # The queue keeps such an event in its dead list; posted, it exists only in this line.
        # The parser's reasons show at most the last four digits of a number.
        log.warning("call events: malformed event posted: %s", error.detail)
        raise
    except DatabaseUnavailable:
        log.warning("call events: posted event not stored, database unavailable (1010)")
        raise
    return envelope.success("call event stored", event=event.kind, callId=event.call_id)
