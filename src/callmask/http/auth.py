"""auth/ssid: a session id made from userId and token."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from callmask.domain.errors import InvalidParameters
from callmask.http import api, envelope
from callmask.http.body import parameters


async def create_ssid(request: Request) -> Response:
    app = api.of(request)
    params = await parameters(request, app.body_limit)
    if params.get("ssid"):
        raise InvalidParameters("an ssid is created from userId and token")
    principal = await app.guard.admit(request, params)
    ssid, expires_ms = await app.services.accounts.create_ssid(principal)
    return envelope.success("ssid created", ssid=ssid, expiry_time=expires_ms // 1000)
