"""Per request: an id, an access-log line and its metrics.

The middleware is plain ASGI (no BaseHTTPMiddleware, whose task and queue per request cost
more than the whole route lookup) and sits on the hot path of every call: it reads one
header, wraps send (taking the DeepCall code an envelope hands it), and at the end does a
dict lookup, two or three prometheus_client
updates and, at INFO, one log record.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from callmask import logs
from callmask.http.envelope import CODE_KEY
from callmask.http.metrics import Metrics

access = logging.getLogger("callmask.access")

_HEADER = b"x-request-id"
_UNMATCHED = "unmatched"
# A client's X-Request-Id is echoed and put on every line its request logs, so it is kept only
# if it is an id: this charset and length (a UUID, a W3C trace id fit), and no number in it.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# Seven or more digits with at most three other characters (not letters, not a path's "/")
# between each two: a phone number however it is written ("98765-43210", "98 76 54 32 10",
# "(987) 654-3210"). logs.redact_digits looks for unbroken runs only; this is for text the
# client chose.
_SPELLED_NUMBER = re.compile(r"[+(]?\d(?:[^0-9A-Za-z/]{0,3}\d){6,}")


def accepted_request_id(value: str) -> str | None:
    """The client's request id, if it is safe to echo and log as it is."""
    if _REQUEST_ID.fullmatch(value) and not _SPELLED_NUMBER.search(value):
        return value
    return None


def _last_four(match: re.Match[str]) -> str:
    return "…" + "".join(char for char in match.group() if char.isdigit())[-4:]


def redact_numbers(text: str) -> str:
    """Text the client chose (a path), every number in it, however written, cut to its last
    four digits."""
    return _SPELLED_NUMBER.sub(_last_four, text)


# Probes and scrapes arrive every few seconds; their lines would drown the API's. Route
# lookups come once per call from the SIP proxy: a JSON line each (~18 us) would cost as much
# as the lookup and its framework together, and every call is recorded in the calls table
# and counted in the metrics anyway; they are written at DEBUG. So are the call events the
# proxy posts while its queue is away (several per call), for the same reasons.
_QUIET = frozenset(
    {"/healthz", "/readyz", "/metrics", "/api/v2/Masking/route", "/api/v2/Masking/callEvent"}
)


class Telemetry:
    """ASGI middleware: request id in and out, access log, request metrics."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics.requests
        self._templates: dict[str, str] = {}

    def _endpoint(self, scope: Scope) -> str:
        route = scope.get("route")
        path = getattr(route, "path", None)
        if path is None:
            return _UNMATCHED
        found = self._templates.get(path)
        if found is None:
            # /x and /x/ are one endpoint.
            found = self._templates[path] = path.rstrip("/") or "/"
        return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = None
        for name, value in scope["headers"]:
            if name == _HEADER:
                rid = accepted_request_id(value.decode("latin-1"))
                break
        if rid is None:
            rid = logs.new_request_id()
        token = logs.request_id.set(rid)
        answer: list[Any] = [500, "none"]  # HTTP status, DeepCall code
        echo = (_HEADER, rid.encode())

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer[0] = message["status"]
                # Only envelopes carry a code; a CSV report, a probe or a scrape has none.
                answer[1] = message.pop(CODE_KEY, "none")
                message["headers"] = [*message.get("headers", ()), echo]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            try:
                self._finish(scope, answer, time.perf_counter() - started)
            finally:
                logs.request_id.reset(token)

    def _finish(self, scope: Scope, answer: list[Any], seconds: float) -> None:
        endpoint = self._endpoint(scope)
        status, code = answer
        if answer[1] == "none" and status == 500:
            code = "1009"
        self.metrics.outcome(endpoint, code, status)(seconds)
        level = logging.DEBUG if endpoint in _QUIET else logging.INFO
        if access.isEnabledFor(level):
            path = endpoint
            if endpoint == _UNMATCHED:
                path = redact_numbers(scope["path"])
            # The record is made and handled directly: Logger.log would also walk the stack
            # to find its caller, a few microseconds on every request for a known place.
            access.handle(
                access.makeRecord(
                    access.name,
                    level,
                    __file__,
                    0,
                    "%s %s -> %s code=%s %.2fms",
                    (scope["method"], path, status, code, seconds * 1000),
                    None,
                    extra={
                        "method": scope["method"],
                        "endpoint": path,
                        "status": status,
                        "code": code,
                        "duration_ms": round(seconds * 1000, 3),
                    },
                )
            )
