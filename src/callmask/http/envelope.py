"""Every answer under /api/v2 in DeepCall's shape, with the vendor's headers."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from callmask.domain.errors import Code, MaskingError

# As in the vendor's sample response; browsers call the API straight from web apps.
HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, GET, OPTIONS, PATCH, DELETE",
    "Access-Control-Allow-Headers": "X-Requested-With, content-type",
    "Access-Control-Allow-Credentials": "true",
}
MEDIA_TYPE = "application/json; charset=utf-8"


def success_payload(message: str, **fields: Any) -> dict[str, Any]:
    return {"status": "success", "code": int(Code.OK), "message": message, **fields}


def error_payload(failure: MaskingError) -> dict[str, Any]:
    return {"status": "error", "message": failure.detail, "code": int(failure.code)}


def render(payload: dict[str, Any], http_status: int = 200) -> Response:
    return Response(
        orjson.dumps(payload), status_code=http_status, headers=HEADERS, media_type=MEDIA_TYPE
    )


def success(message: str, **fields: Any) -> Response:
    return render(success_payload(message, **fields))


def error(failure: MaskingError, http_status: int = 200) -> Response:
    # DeepCall answers errors with HTTP 200; clients read status and code from the body.
    return render(error_payload(failure), http_status)


def preflight() -> Response:
    return Response(status_code=204, headers=HEADERS)
