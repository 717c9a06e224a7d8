"""Masking/route: where the SIP proxy sends a call to a pool number.

The GET form, asked once per call, is answered by the fast path (fastroute.py) with this
same payload; the POST form comes through the router like every other endpoint.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from callmask.http import api, envelope
from callmask.http.api import Api
from callmask.http.body import parameters


async def route_payload(
    app: Api, params: dict[str, Any], authorization: str, address: str
) -> dict[str, Any]:
    """Where the call from caller to mask goes, as the envelope's fields."""
    principal = await app.guard.authenticate_proxy(address, params, authorization)
    decision = await app.services.routing.route_call(
        principal, params.get("caller"), params.get("mask")
    )
    if decision.action == "connect" and decision.masking is not None:
        return envelope.success_payload(
            "connect",
            action="connect",
            caller=decision.caller,
            to=decision.to,
            callerId=decision.masking.mask,
            maskingId=decision.masking.masking_id,
            eventId=decision.masking.event_id,
            callTimeLimit=decision.call_time_limit,
            record=decision.record,
        )
    if decision.action == "forward":
        # No masking: the fallback sees the DID called, and the caller (if not withheld).
        return envelope.success_payload(
            "forward",
            action="forward",
            caller=decision.caller or "",
            to=decision.to,
            callerId=decision.caller_id,
            maskingId="",
            callTimeLimit=decision.call_time_limit,
            record=decision.record,
        )
    return envelope.success_payload(
        decision.reason,
        action="reject",
        sipCode=decision.sip_code,
        reason=decision.reason,
        maskingId=decision.masking.masking_id if decision.masking else None,
    )


async def route(request: Request) -> Response:
    app = api.of(request)
    params = await parameters(request, app.body_limit)
    payload = await route_payload(
        app, params, request.headers.get("authorization", ""), app.guard.address(request.scope)
    )
    return envelope.render(payload)
