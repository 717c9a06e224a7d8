"""Probes and scrapes: /healthz (the process answers), /readyz (the database answers and is
migrated), /metrics (Prometheus)."""

from __future__ import annotations

import hmac
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from callmask.http.api import STATE_KEY, Api
from callmask.http.envelope import MEDIA_TYPE
from callmask.http.metrics import CONTENT_TYPE, Metrics
from callmask.service import Services


def _json(payload: dict[str, Any], status: int) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def _services(request: Request) -> Services | None:
    api: Api | None = getattr(request.state, STATE_KEY, None)
    return None if api is None else api.services


async def healthz(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type=MEDIA_TYPE)


class Readiness:
    """200 when the database answers within timeout_s and has every shipped migration."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s

    async def answer(self, request: Request) -> Response:
        services = _services(request)
        if services is None:
            return _json({"status": "starting", "checks": {"database": "not opened yet"}}, 503)
        checks = await services.health.checks(self.timeout_s)
        ok = all(value == "ok" for value in checks.values())
        return _json(
            {"status": "ready" if ok else "not ready", "checks": checks}, 200 if ok else 503
        )


class Scrape:
    """The metrics text; the pool figures are read through the pool use case when stale.

    token: the bearer token a scrape must carry (empty: none). The scrape names every account
    with its pool's size and load, which is no one else's business."""

    def __init__(self, metrics: Metrics, token: str = "") -> None:
        self.metrics = metrics
        self._expected = f"Bearer {token}".encode() if token else b""

    async def answer(self, request: Request) -> Response:
        if self._expected and not hmac.compare_digest(
            request.headers.get("authorization", "").encode("latin-1"), self._expected
        ):
            return Response(
                b'{"status":"error","message":"a bearer token is required"}',
                status_code=401,
                media_type=MEDIA_TYPE,
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        services = _services(request)

        async def read() -> list[Any]:
            if services is None:
                raise RuntimeError("the store is not open yet")
            return await services.pool.pressure()

        return Response(await self.metrics.exposition(read), media_type=CONTENT_TYPE)
