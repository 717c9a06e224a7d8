"""Per request: an id, an access-log line and its metrics; plus /metrics and /readyz.

The middleware is plain ASGI (no BaseHTTPMiddleware, whose task and queue per request cost
more than the whole route lookup) and sits on the hot path of every call: it reads one
header, wraps send, and at the end does a dict lookup, two or three prometheus_client
updates and, at INFO, one log record.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from callmask import logs
from callmask.config import Settings
from callmask.metrics import CONTENT_TYPE, Metrics
from callmask.storage.base import AccountPressure, StorageError, StorageUnavailable, Store

access = logging.getLogger("callmask.access")

_HEADER = b"x-request-id"
_CODE = re.compile(rb'"code":(\d*)')
_UNMATCHED = "unmatched"
# Probes and scrapes arrive every few seconds; their lines would drown the API's. Route
# lookups come once per call from the SIP proxy: a JSON line each (~18 us) would cost as much
# as the lookup and its framework together, and every call is recorded in the calls table
# and counted in the metrics anyway; they are written at DEBUG.
_QUIET = frozenset({"/healthz", "/readyz", "/metrics", "/api/v2/Masking/route"})


def _code(body: bytes) -> str:
    """The DeepCall code of an envelope, or "none" (a CSV report, a probe).

    A success has "code" second, an error after the message; a message's own quotes are
    escaped, so the first match is the envelope's.
    """
    found = _CODE.search(body)  # one C-level search: this runs on every answer
    return found[1].decode() if found is not None and found[1] else "none"


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
                rid = logs.accepted_request_id(value.decode("latin-1"))
                break
        if rid is None:
            rid = logs.new_request_id()
        token = logs.request_id.set(rid)
        answer: list[Any] = [500, "none"]  # HTTP status, DeepCall code
        echo = (_HEADER, rid.encode())

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer[0] = message["status"]
                message["headers"] = [*message.get("headers", ()), echo]
            elif answer[1] == "none" and message["type"] == "http.response.body":
                answer[1] = _code(message.get("body", b""))
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
                path = logs.redact_digits(scope["path"])
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


def _json(payload: dict[str, Any], status: int) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def metrics_endpoint(metrics: Metrics) -> Callable[[Request], Awaitable[Response]]:
    async def scrape(request: Request) -> Response:
        return Response(await metrics.exposition(), media_type=CONTENT_TYPE)

    return scrape


def readyz_endpoint(
    store: Callable[[], Store | None], timeout_s: float
) -> Callable[[Request], Awaitable[Response]]:
    """200 when the database answers within timeout_s and has every shipped migration."""

    async def ready(request: Request) -> Response:
        current = store()
        if current is None:
            return _json({"status": "starting", "checks": {"database": "not opened yet"}}, 503)
        checks: dict[str, Any] = {}
        try:
            missing = await asyncio.wait_for(current.pending_migrations(timeout_s), timeout_s)
        except (StorageError, TimeoutError) as error:
            checks["database"] = f"unreachable ({type(error).__name__})"
            checks["migrations"] = "unknown"
        else:
            checks["database"] = "ok"
            checks["migrations"] = f"pending {missing}" if missing else "ok"
        ok = all(value == "ok" for value in checks.values())
        return _json(
            {"status": "ready" if ok else "not ready", "checks": checks}, 200 if ok else 503
        )

    return ready


class Observed:
    """What create_app adds: the middleware, /metrics and /readyz, around the app's store."""

    def __init__(
        self, settings: Settings, clock: Callable[[], float], store: Callable[[], Store | None]
    ) -> None:
        self._store = store
        self._clock = clock
        self.metrics = Metrics(self._pressure, settings.metrics_cache_seconds)
        self.middleware = [Middleware(Telemetry, metrics=self.metrics)]
        self.routes = [
            Route("/metrics", metrics_endpoint(self.metrics), methods=["GET"]),
            Route(
                "/readyz", readyz_endpoint(store, settings.ready_timeout_seconds), methods=["GET"]
            ),
        ]

    async def _pressure(self) -> list[AccountPressure]:
        store = self._store()
        if store is None:
            raise StorageUnavailable("the store is not open yet")
        return await store.pressure(int(self._clock() * 1000))
