"""GET /api/v2/Masking/route answered without the framework's per-request machinery.

The SIP proxy asks this once per call, and the lookup itself is a single indexed read of
~10 us; Starlette's router, Request object, exception wrappers and Response object cost
about as much again (py-spy under load, docs/http.md). This ASGI middleware answers the
GET form itself, with the same parameters, authentication, envelope and headers as the
routed handler (Api.route_payload decides for both); everything else, the POST form
included, goes on to the app. It sits inside the request-id/metrics middleware, so the
lookups are counted and logged like any other request.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, Protocol
from urllib.parse import unquote_plus

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from callmask.domain.errors import (
    InvalidRequestData,
    MaskingError,
    SomethingWentWrong,
    TooManyRequests,
)
from callmask.http import envelope

log = logging.getLogger("callmask.http")

PATH = "/api/v2/Masking/route"
_PATHS = frozenset({PATH, PATH + "/"})
# What the router would have put in the scope: the metrics label the endpoint by it.
_ROUTE = SimpleNamespace(path=PATH)
_HEADERS = [
    (b"content-type", envelope.MEDIA_TYPE.encode()),
    *((name.lower().encode(), value.encode()) for name, value in envelope.HEADERS.items()),
]


class RouteLookup(Protocol):
    async def route_payload(
        self, params: dict[str, Any], authorization: str, address: str
    ) -> dict[str, Any]: ...


def query(raw: bytes) -> dict[str, str]:
    """A query string as Starlette reads it (dict(parse_qsl(latin-1, keep_blank_values))):
    blanks kept, the last of a repeated name; only escaped fields pay for unescaping."""
    params: dict[str, str] = {}
    for field in raw.decode("latin-1").split("&"):
        if not field:
            continue
        name, _, value = field.partition("=")
        if "%" in field or "+" in field:
            name, value = unquote_plus(name), unquote_plus(value)
        params[name] = value
    return params


def _authorization(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return str(value.decode("latin-1"))
    return ""


class FastRoute:
    """ASGI middleware: GET route lookups answered here, the rest passed to app."""

    def __init__(self, app: ASGIApp, api: Callable[[], RouteLookup | None]) -> None:
        self.app = app
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        api = self.api() if scope["type"] == "http" else None
        if api is None or scope["method"] != "GET" or scope["path"] not in _PATHS:
            await self.app(scope, receive, send)
            return
        scope["route"] = _ROUTE
        extra: list[tuple[bytes, bytes]] = []
        status = 200
        try:
            params = query(scope["query_string"])
            if not params:
                raise InvalidRequestData()
            client = scope.get("client")
            payload = await api.route_payload(
                params, _authorization(scope), client[0] if client else ""
            )
        except TooManyRequests as refused:
            payload = envelope.error_payload(refused)
            status = 429
            extra = [(b"retry-after", str(max(1, math.ceil(refused.retry_after_s))).encode())]
        except MaskingError as failure:
            payload = envelope.error_payload(failure)
        except Exception:
            log.exception("unhandled error on %s", PATH)
            payload = envelope.error_payload(SomethingWentWrong())
        body = orjson.dumps(payload)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [*_HEADERS, *extra, (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
