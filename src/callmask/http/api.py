"""What every endpoint works with: the use cases, the guard and the body limit.

Made once when the app starts (the lifespan) and handed to endpoints through the ASGI
lifespan state, so an endpoint reads it from its request and nothing holds it in a closure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from callmask.http.body import parameters
from callmask.http.guard import Guard
from callmask.service import Services
from callmask.service.accounts import Principal

STATE_KEY = "api"


@dataclass(frozen=True, slots=True)
class Api:
    services: Services
    guard: Guard
    body_limit: int

    async def admitted(
        self, request: Request, bearer: bool = False
    ) -> tuple[Principal, dict[str, Any]]:
        """The request's parameters and its caller, through the rate limits and lockouts
        (bearer: an `Authorization: Bearer` token is taken too)."""
        params = await parameters(request, self.body_limit)
        return await self.guard.admit(request, params, bearer), params


def of(request: Request) -> Api:
    api: Api = request.state.api
    return api
