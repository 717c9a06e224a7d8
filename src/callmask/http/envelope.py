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


def success(message: str, **fields: Any) -> Response:
    payload = {"status": "success", "code": int(Code.OK), "message": message, **fields}
    return Response(orjson.dumps(payload), headers=HEADERS, media_type=MEDIA_TYPE)


def error(failure: MaskingError, http_status: int = 200) -> Response:
    # DeepCall answers errors with HTTP 200; clients read status and code from the body.
    payload = {"status": "error", "message": failure.detail, "code": int(failure.code)}
    return Response(
        orjson.dumps(payload), status_code=http_status, headers=HEADERS, media_type=MEDIA_TYPE
    )


def preflight() -> Response:
    return Response(status_code=204, headers=HEADERS)
