"""Every answer under /api/v2 in DeepCall's shape, with the vendor's headers.

An envelope tells the telemetry middleware its DeepCall code through the ASGI start message
(CODE_KEY, removed before the server sees it), so no one reads the body back to learn it.
Failures of every kind are rendered here, once, for the routed endpoints and the route fast
path alike.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import orjson
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from callmask.domain.errors import Code, MaskingError, SomethingWentWrong, TooManyRequests

log = logging.getLogger("callmask.http")

# As in the vendor's sample response; browsers call the API straight from web apps.
HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, GET, OPTIONS, PATCH, DELETE",
    "Access-Control-Allow-Headers": "X-Requested-With, content-type",
    "Access-Control-Allow-Credentials": "true",
}
MEDIA_TYPE = "application/json; charset=utf-8"
# The same, as raw ASGI headers (content-type first, as Starlette's Response puts it).
RAW_HEADERS = [
    (b"content-type", MEDIA_TYPE.encode()),
    *((name.lower().encode(), value.encode()) for name, value in HEADERS.items()),
]
CODE_KEY = "callmask.code"


def success_payload(message: str, **fields: Any) -> dict[str, Any]:
    return {"status": "success", "code": int(Code.OK), "message": message, **fields}


def error_payload(failure: MaskingError) -> dict[str, Any]:
    """The vendor's words stay the message where it has them; callmask's detail, if any
    more precise, is then the "detail" beside it."""
    if not failure.vendor_worded:
        return {"status": "error", "message": failure.detail, "code": int(failure.code)}
    payload = {"status": "error", "message": failure.message, "code": int(failure.code)}
    if failure.detail != failure.message:
        payload["detail"] = failure.detail
    return payload


def failure(error: Exception, where: str) -> tuple[dict[str, Any], int, list[tuple[bytes, bytes]]]:
    """Any exception as an envelope: its payload, HTTP status and extra headers.

    A MaskingError answers its code with HTTP 200 as DeepCall does; a rate limit or lockout
    answers 429 with Retry-After, so both kinds of client back off; anything else is logged
    (without phone numbers: where is a route template) and answered 1009.
    """
    if isinstance(error, TooManyRequests):
        wait = str(max(1, math.ceil(error.retry_after_s))).encode()
        return error_payload(error), 429, [(b"retry-after", wait)]
    if isinstance(error, MaskingError):
        return error_payload(error), 200, []
    log.error("unhandled error on %s", where, exc_info=error)
    return error_payload(SomethingWentWrong()), 200, []


class Envelope(Response):
    """A JSON envelope; its code travels to the telemetry middleware with the start message."""

    media_type = MEDIA_TYPE

    def __init__(
        self,
        payload: dict[str, Any],
        http_status: int = 200,
        extra: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        self.code = str(payload["code"])
        super().__init__(orjson.dumps(payload), status_code=http_status, headers=HEADERS)
        if extra:
            self.raw_headers += extra

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": self.status_code,
                "headers": self.raw_headers,
                CODE_KEY: self.code,
            }
        )
        await send({"type": "http.response.body", "body": self.body})


def render(payload: dict[str, Any], http_status: int = 200) -> Response:
    return Envelope(payload, http_status)


def success(message: str, **fields: Any) -> Response:
    return Envelope(success_payload(message, **fields))


def error(failure: MaskingError, http_status: int = 200) -> Response:
    # DeepCall answers errors with HTTP 200; clients read status and code from the body.
    return Envelope(error_payload(failure), http_status)


def failed(error: Exception, where: str) -> Response:
    """failure() as a response."""
    payload, status, extra = failure(error, where)
    return Envelope(payload, status, extra)


def preflight() -> Response:
    return Response(status_code=204, headers=HEADERS)
