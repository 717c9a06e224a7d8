"""The OpenAPI 3.0 description of the HTTP API, served at GET /openapi.json.

The document lives in openapi.json beside this module and is edited there, by hand. Being data,
it can drift from the code it describes; tests/fuzz/test_openapi.py keeps it honest: the paths
must match the app's route table, and the error codes (enum and table), the call statuses and
actions, the CSV columns, the page-size limit and the webhook kinds and outcomes must match the
domain.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from callmask.http import envelope

PATH = "/openapi.json"
PREFIX = "/api/v2"

# Read and parsed once, at import: a missing or malformed file fails at start, not on the
# first request. The file is indented for editing; clients get it compact.
_RENDERED = orjson.dumps(orjson.loads(files("callmask.http").joinpath("openapi.json").read_bytes()))


def document() -> dict[str, Any]:
    """The OpenAPI document, as data: a fresh copy, so a caller's changes stay its own."""
    loaded: dict[str, Any] = orjson.loads(_RENDERED)
    return loaded


async def serve(request: Request) -> Response:
    return Response(_RENDERED, media_type=envelope.MEDIA_TYPE)
