"""The ASGI app: routes and middleware. Each endpoint parses, calls one use case and renders.

The app opens nothing itself: `started` (from the composition root, callmask.bootstrap)
opens the store, builds the use cases and runs the background workers for as long as the
app runs; the app adds the guard and hands both to its endpoints in the lifespan state.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from callmask.config import Settings
from callmask.domain.errors import InvalidParameters, MaskingError, SomethingWentWrong
from callmask.http import (
    auth,
    console,
    envelope,
    events,
    health,
    maskings,
    openapi,
    reports,
    routing,
    webhooks,
)
from callmask.http.api import STATE_KEY, Api
from callmask.http.fastroute import FastRoute
from callmask.http.guard import Guard
from callmask.http.metrics import Metrics
from callmask.http.telemetry import Telemetry, redact_numbers
from callmask.service import Services

log = logging.getLogger("callmask.http")

Endpoint = Callable[[Request], Awaitable[Response]]
PREFIX = "/api/v2"
# Answered by middleware before the router: (method, path), for the route table's readers.
FAST_PATHS = frozenset({("GET", PREFIX + "/Masking/route")})
ENDPOINTS: tuple[tuple[str, Endpoint, list[str]], ...] = (
    ("/Masking/set", maskings.set_masking, ["POST"]),
    ("/Masking/unset", maskings.unset_masking, ["POST"]),
    # Its GET form never reaches the router: the fast path answers it (fastroute.py).
    ("/Masking/route", routing.route, ["POST"]),
    # Where the SIP proxy posts a call event when its Redis queue is unreachable.
    ("/Masking/callEvent", events.call_event, ["POST"]),
    ("/Masking/get", maskings.get_maskings, ["POST"]),
    ("/Masking/list", maskings.list_maskings, ["POST"]),
    ("/callreport/masklist", reports.masklist, ["POST"]),
    # A recorded call's audio; GET too, so a browser or an audio element can fetch it with
    # a Bearer token or an ssid.
    ("/callreport/recording", reports.recording, ["GET", "POST"]),
    ("/webhooks/deliveries", webhooks.deliveries, ["POST"]),
    ("/auth/ssid", auth.create_ssid, ["POST"]),
)


def _enveloped(path: str, handler: Endpoint) -> Endpoint:
    """Any failure becomes its envelope (envelope.failure says how)."""

    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except Exception as error:
            return envelope.failed(error, path)

    return run


async def _preflight(request: Request) -> Response:
    return envelope.preflight()


def _allowed(request: Request) -> str:
    """Every method the request's path answers, the fast path's included (RFC 9110 Allow)."""
    path = request.scope["path"]
    methods = {method for method, fast in FAST_PATHS if fast in (path, path[:-1])}
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.path_regex.match(path):
            methods |= route.methods or set()
    return ", ".join(sorted(methods))


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 405:
        response = envelope.error(
            InvalidParameters("method not allowed on this endpoint"), http_status=405
        )
        response.headers["Allow"] = _allowed(request)
        return response
    if status == 404:
        failure: MaskingError = InvalidParameters("unknown endpoint")
    else:
        failure = SomethingWentWrong()
    return envelope.error(failure, http_status=status)


async def _crash(request: Request, exc: Exception) -> Response:
    log.error("unhandled %s on %s", type(exc).__name__, redact_numbers(request.url.path))
    return envelope.error(SomethingWentWrong(), http_status=500)


def routes(settings: Settings, metrics: Metrics) -> list[BaseRoute]:
    table: list[BaseRoute] = []
    for path, handler, methods in ENDPOINTS:
        endpoint = _enveloped(PREFIX + path, handler)
        for variant in (PREFIX + path, PREFIX + path + "/"):
            table.append(Route(variant, endpoint, methods=methods))
            table.append(Route(variant, _preflight, methods=["OPTIONS"]))
    table.append(Route("/healthz", health.healthz, methods=["GET"]))
    table.append(Route(openapi.PATH, openapi.serve, methods=["GET"]))
    scrape = health.Scrape(metrics, settings.metrics_token)
    table.append(Route("/metrics", scrape.answer, methods=["GET"]))
    table.append(
        Route("/readyz", health.Readiness(settings.ready_timeout_seconds).answer, methods=["GET"])
    )
    if settings.console == "on":
        table.extend(console.routes())
    return table


def create_app(
    settings: Settings,
    started: Callable[[], AbstractAsyncContextManager[Services]],
    limits_clock: Callable[[], float],
) -> Starlette:
    """The ASGI app; started() runs for the app's lifetime and gives it the use cases."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        async with started() as services:
            guard = Guard(services.accounts, settings, limits_clock)
            yield {STATE_KEY: Api(services, guard, settings.max_body_bytes)}

    metrics = Metrics(settings.metrics_cache_seconds)
    app = Starlette(
        routes=routes(settings, metrics),
        # Request ids, access log and metrics around every request; the SIP proxy's GET
        # lookups are answered inside them, before the router.
        middleware=[Middleware(Telemetry, metrics=metrics), Middleware(FastRoute)],
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error, Exception: _crash},
    )
    # A redirect would point at the Host the client sent; each API path is routed with and
    # without its trailing slash instead, and repeated slashes are folded (fastroute.py).
    app.router.redirect_slashes = False
    return app
