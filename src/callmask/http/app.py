"""Routes of the HTTP API; each endpoint parses, calls one use case and renders."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from callmask import logs, retention
from callmask.config import Settings
from callmask.delivery import Deliverer
from callmask.domain.errors import (
    InvalidParameters,
    MaskingError,
    SomethingWentWrong,
    TooManyRequests,
)
from callmask.domain.masking import Masking
from callmask.events import CallEventConsumer
from callmask.http import envelope, openapi
from callmask.http.body import parameters
from callmask.http.fastroute import FastRoute
from callmask.http.guard import Guard, client_address, refusal
from callmask.http.reports import ReportApi
from callmask.http.telemetry import Observed
from callmask.reports import Reports
from callmask.service import MaskingService
from callmask.storage import open_store
from callmask.storage.base import Store
from callmask.webhooks import Webhooks

log = logging.getLogger("callmask.http")

Endpoint = Callable[[Request], Awaitable[Response]]


def _masking_fields(masking: Masking) -> dict[str, Any]:
    return {
        "maskingId": masking.masking_id,
        "mask": masking.mask,
        "m1": masking.m1,
        "m2": masking.m2,
        "eventId": masking.event_id,
        "expiry_time": masking.expiry_seconds,
    }


def _guarded(handler: Endpoint) -> Endpoint:
    """Any MaskingError becomes its envelope; anything else is logged and answered 1009."""

    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except TooManyRequests as refused:
            return refusal(refused)
        except MaskingError as failure:
            return envelope.error(failure)
        except Exception:
            log.exception("unhandled error on %s", request.url.path)
            return envelope.error(SomethingWentWrong())

    return run


class Api:
    def __init__(self, service: MaskingService, settings: Settings, guard: Guard) -> None:
        self.service = service
        self.limit = settings.max_body_bytes
        self.guard = guard

    async def set(self, request: Request) -> Response:
        params = await parameters(request, self.limit)
        principal = await self.guard.admit(request, params)
        masking = await self.service.set_masking(
            principal,
            params.get("m1"),
            params.get("m2"),
            params.get("eventId"),
            params.get("expiry_time"),
            params.get("expiry_duration"),
        )
        return envelope.success("Masking set successfully", **_masking_fields(masking))

    async def unset(self, request: Request) -> Response:
        params = await parameters(request, self.limit)
        principal = await self.guard.admit(request, params)
        changed = await self.service.unset_masking(
            principal,
            params.get("m1"),
            params.get("m2"),
            params.get("mask"),
            params.get("expiry_time"),
            params.get("expiry_duration"),
        )
        return envelope.success(
            "Masking unset successfully",
            count=len(changed),
            maskings=[_masking_fields(masking) for masking in changed],
        )

    async def route(self, request: Request) -> Response:
        # GET lookups are answered by fastroute.FastRoute with this same payload.
        params = await parameters(request, self.limit)
        payload = await self.route_payload(
            params, request.headers.get("authorization", ""), client_address(request)
        )
        return envelope.render(payload)

    async def route_payload(
        self, params: dict[str, Any], authorization: str, address: str
    ) -> dict[str, Any]:
        """Where the call from caller to mask goes, as the envelope's fields."""
        if authorization[:7].lower() == "bearer " and not params.get("ssid"):
            principal = await self.guard.authenticate_bearer(address, authorization[7:].strip())
        else:
            principal = await self.guard.authenticate(address, params)
        decision = await self.service.route_call(
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
            )
        return envelope.success_payload(
            decision.reason,
            action="reject",
            sipCode=decision.sip_code,
            reason=decision.reason,
            maskingId=decision.masking.masking_id if decision.masking else None,
        )

    async def ssid(self, request: Request) -> Response:
        params = await parameters(request, self.limit)
        if params.get("ssid"):
            raise InvalidParameters("an ssid is created from userId and token")
        principal = await self.guard.admit(request, params)
        ssid, expires_ms = await self.service.create_ssid(principal)
        return envelope.success("ssid created", ssid=ssid, expiry_time=expires_ms // 1000)


async def _preflight(request: Request) -> Response:
    return envelope.preflight()


async def _healthz(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type=envelope.MEDIA_TYPE)


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 405:
        failure: MaskingError = InvalidParameters("method not allowed on this endpoint")
    elif status == 404:
        failure = InvalidParameters("unknown endpoint")
    else:
        failure = SomethingWentWrong()
    return envelope.error(failure, http_status=status)


async def _crash(request: Request, exc: Exception) -> Response:
    log.error("unhandled %s on %s", type(exc).__name__, logs.redact_digits(request.url.path))
    return envelope.error(SomethingWentWrong(), http_status=500)


async def _sweep_forever(service: MaskingService, settings: Settings) -> None:
    """Close lapsed maskings every sweep interval; purge past retention every purge interval."""
    last_purge: float | None = None  # the first sweep purges too: a restart does not wait
    while True:
        await asyncio.sleep(settings.sweep_interval_seconds)
        try:
            closed = await service.sweep()
            if closed:
                log.info("sweeper closed %d lapsed maskings", closed)
        except Exception as error:
            log.warning("sweep failed: %s", type(error).__name__)
        if settings.retention_days and (
            last_purge is None or time.monotonic() - last_purge >= settings.purge_interval_seconds
        ):
            last_purge = time.monotonic()
            try:
                cutoff = retention.cutoff_ms(service.now_ms(), settings.retention_days)
                purged = await retention.purge(service.store, cutoff)
                if purged.total:
                    log.info("purged past retention: %s", purged)
            except Exception as error:
                log.warning("purge failed: %s", type(error).__name__)


def create_app(
    settings: Settings,
    clock: Callable[[], float] = time.time,
    store_factory: Callable[[Settings], Store] = open_store,
) -> Starlette:
    """The ASGI app; the store is opened at start-up and closed at shutdown."""
    holder: dict[str, Api | ReportApi] = {}

    def bound(owner: str, name: str) -> Endpoint:
        async def call(request: Request) -> Response:
            handler: Endpoint = getattr(holder[owner], name)
            return await handler(request)

        return _guarded(call)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = store_factory(settings)
        applied = await store.migrate()
        if applied:
            log.info("applied migrations %s", applied)
        service = MaskingService(store, settings, clock)
        webhooks = Webhooks(store, settings, clock)
        # Limits run on a monotonic clock, unless a test drives the clock.
        guard = Guard(service, settings, time.monotonic if clock is time.time else clock)
        holder["api"] = Api(service, settings, guard)
        holder["reports"] = ReportApi(
            Reports(store, settings, clock), webhooks, settings.max_body_bytes, guard
        )
        consumer = None
        if settings.events_redis_url:
            consumer = CallEventConsumer(service, settings.events_redis_url, settings.events_queue)
            consumer.start()
        deliverer = Deliverer(webhooks, settings.webhook_poll_seconds)
        service.on_notice = deliverer.wake
        deliverer.start()
        sweeper = asyncio.create_task(_sweep_forever(service, settings))
        try:
            yield
        finally:
            if consumer is not None:
                await consumer.stop()
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            await deliverer.stop()
            await store.close()

    prefix = "/api/v2"
    routes = []
    for path, owner, name, methods in (
        ("/Masking/set", "api", "set", ["POST"]),
        ("/Masking/unset", "api", "unset", ["POST"]),
        ("/Masking/route", "api", "route", ["GET", "POST"]),
        ("/Masking/get", "reports", "masking_get", ["POST"]),
        ("/Masking/list", "reports", "masking_list", ["POST"]),
        ("/callreport/masklist", "reports", "masklist", ["POST"]),
        ("/webhooks/deliveries", "reports", "deliveries", ["POST"]),
        ("/auth/ssid", "api", "ssid", ["POST"]),
    ):
        endpoint = bound(owner, name)
        for variant in (prefix + path, prefix + path + "/"):
            routes.append(Route(variant, endpoint, methods=methods))
            routes.append(Route(variant, _preflight, methods=["OPTIONS"]))
    routes.append(Route("/healthz", _healthz, methods=["GET"]))
    routes.append(Route(openapi.PATH, openapi.serve, methods=["GET"]))

    def current_api() -> Api | None:
        api = holder.get("api")
        return api if isinstance(api, Api) else None

    def current_store() -> Store | None:
        api = current_api()
        return api.service.store if api is not None else None

    # Request ids, access log and metrics around every request; /metrics and /readyz.
    observed = Observed(settings, clock, current_store)
    routes += observed.routes
    return Starlette(
        routes=routes,
        # The SIP proxy's GET lookups are answered inside the metrics, before the router.
        middleware=[*observed.middleware, Middleware(FastRoute, api=current_api)],
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error, Exception: _crash},
    )


def app_from_env() -> Starlette:
    """The app configured from CALLMASK_* variables: what each `serve --workers N` process runs."""
    settings = Settings.from_env()
    logs.configure(
        settings.log_level,
        settings.log_format or "json",
        access_log=settings.access_log == "on",
    )
    return create_app(settings)
