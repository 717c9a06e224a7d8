"""Numbers: the account's pool with each number's live maskings; adding and removing."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from callmask.domain.errors import MaskingError
from callmask.domain.permissions import Permission
from callmask.http import api
from callmask.http.console import render
from callmask.http.console.session import Visitor

# Numbers typed one per line, or separated by commas or semicolons (spaces stay: "+91 80 ...").
_SEPARATORS = re.compile(r"[\r\n,;]+")


async def show(
    request: Request, visitor: Visitor, params: dict[str, Any], error: str | None = None
) -> Response:
    numbers = await api.of(request).services.pool.numbers(visitor.principal.account_id)
    return render.html(
        request,
        "numbers.html",
        {
            "numbers": numbers,
            "live": sum(n.active_maskings for n in numbers),
            "csrf": visitor.csrf,
            "may_change": visitor.may(Permission.MANAGE_POOL),
            "may_search": visitor.may(Permission.LIST_MASKING),
            "error": error,
        },
        status=400 if error else 200,
        visitor=visitor,
    )


def _typed(value: object) -> list[str]:
    text = value if isinstance(value, str) else ""
    return [part.strip() for part in _SEPARATORS.split(text) if part.strip()]


async def add(request: Request, visitor: Visitor, params: dict[str, Any]) -> Response:
    try:
        await api.of(request).services.pool.add_numbers(
            visitor.principal, _typed(params.get("numbers"))
        )
    except MaskingError as error:
        return await show(request, visitor, {}, error.detail)
    return render.back("/console/numbers", "added")


async def remove(request: Request, visitor: Visitor, params: dict[str, Any]) -> Response:
    force = params.get("force") in ("on", "yes", "1", "true")
    try:
        await api.of(request).services.pool.remove_numbers(
            visitor.principal, _typed(params.get("numbers")), force
        )
    except MaskingError as error:
        return await show(request, visitor, {}, error.detail)
    return render.back("/console/numbers", "removed")
