"""GET /api/v2/Masking/route answered without the framework's per-request machinery.

The SIP proxy asks this once per call, and the lookup itself is a single indexed read of
~10 us; Starlette's router, Request object, exception wrappers and Response object cost
about as much again (py-spy under load, docs/http.md). This ASGI middleware answers the
GET form itself, with the same parameters, authentication, envelope and headers as the
routed handler (routing.route_payload decides for both, envelope.failure renders every
failure for both); everything else, the POST form included, goes on to the app. It sits
inside the request-id/metrics middleware, so the lookups are counted and logged like any
other request. Its collaborators come with each request, in the lifespan state.

Being the last step before the router, it also folds repeated slashes in every path
(`/api/v2/Masking/set//` is set), so the router never needs to redirect: its redirects
point at whatever Host the client sent.
"""

from __future__ import annotations

import re
from types import SimpleNamespace
from urllib.parse import unquote_plus

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from callmask.domain.errors import InvalidRequestData
from callmask.http import envelope
from callmask.http.api import STATE_KEY, Api
from callmask.http.routing import route_payload

PATH = "/api/v2/Masking/route"
_PATHS = frozenset({PATH, PATH + "/"})
_SLASHES = re.compile(r"//+")
# What the router would have put in the scope: the metrics label the endpoint by it.
_ROUTE = SimpleNamespace(path=PATH)


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

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and "//" in scope["path"]:
            scope["path"] = _SLASHES.sub("/", scope["path"])
        if scope["type"] != "http" or scope["method"] != "GET" or scope["path"] not in _PATHS:
            await self.app(scope, receive, send)
            return
        api: Api | None = scope.get("state", {}).get(STATE_KEY)
        if api is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = _ROUTE
        extra: list[tuple[bytes, bytes]] = []
        status = 200
        try:
            params = query(scope["query_string"])
            if not params:
                raise InvalidRequestData()
            payload = await route_payload(
                api, params, _authorization(scope), api.guard.address(scope)
            )
        except Exception as error:
            payload, status, extra = envelope.failure(error, PATH)
        body = orjson.dumps(payload)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    *envelope.RAW_HEADERS,
                    *extra,
                    (b"content-length", str(len(body)).encode()),
                ],
                envelope.CODE_KEY: str(payload["code"]),
            }
        )
        await send({"type": "http.response.body", "body": body})
