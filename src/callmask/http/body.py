"""Request parameters the way DeepCall clients send them.

The vendor's samples put a JSON object in the body whatever the Content-Type says (curl
--data-raw sends it as a form, axios as text/plain, one sample with an empty Content-Length),
with numbers unquoted. Real form encoding and query-string parameters work too.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request

from callmask.domain.errors import InvalidRequestData

# uvicorn has no timeout on a request body: a client that sends headers and then trickles or
# stalls would hold its request open for ever. 64 KiB in 10 s is 6.5 KB/s, slower than any
# real client.
BODY_TIMEOUT_SECONDS = 10.0


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refusing more than limit bytes without reading the rest."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise InvalidRequestData("Invalid Request Data: body too large")
    chunks, size = [], 0
    try:
        async with asyncio.timeout(BODY_TIMEOUT_SECONDS):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise InvalidRequestData("Invalid Request Data: body too large")
                chunks.append(chunk)
    except TimeoutError:
        raise InvalidRequestData("Invalid Request Data: body not received in time") from None
    return b"".join(chunks)


def parse_body(body: bytes) -> dict[str, Any]:
    """A JSON object, or else form fields; anything else is 1047."""
    text = body.strip()
    if not text:
        return {}
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        if text[:1] in (b"{", b"["):
            raise InvalidRequestData() from None
    else:
        # Valid JSON that is not an object (an array, a string, a number) is no request.
        if not isinstance(data, dict):
            raise InvalidRequestData()
        return data
    try:
        fields = parse_qsl(text.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequestData() from None
    return dict(fields)


async def parameters(request: Request, limit: int) -> dict[str, Any]:
    """Query-string parameters overlaid by the body's; nothing at all is 1047."""
    params: dict[str, Any] = dict(request.query_params)
    if request.method != "GET":
        params.update(parse_body(await read_body(request, limit)))
    if not params:
        raise InvalidRequestData()
    return params
