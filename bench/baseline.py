"""The bare app callmask is measured against: same stack, same answers, no database.

Starlette on uvicorn (httptools, uvloop), one worker unless `--workers N`. POST reads the
body, parses it with orjson and answers an envelope the size of callmask's set answer; GET
reads two query parameters and answers one shaped like callmask's route answer. Both carry
the same CORS headers as callmask, so the bytes on the wire match and only callmask's own
work differs.

Run it alone with `python -m bench.baseline --port 8090 [--workers 2]`.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, GET, OPTIONS, PATCH, DELETE",
    "Access-Control-Allow-Headers": "X-Requested-With, content-type",
    "Access-Control-Allow-Credentials": "true",
}
MEDIA_TYPE = "application/json; charset=utf-8"
_MASKING_ID = "0" * 24


def _json(payload: dict[str, Any]) -> Response:
    return Response(orjson.dumps(payload), headers=HEADERS, media_type=MEDIA_TYPE)


async def post(request: Request) -> Response:
    params = orjson.loads(await request.body())
    return _json(
        {
            "status": "success",
            "code": 200,
            "message": "Masking set successfully",
            "maskingId": _MASKING_ID,
            "mask": "+918040000000",
            "m1": f"+{params.get('m1')}",
            "m2": f"+{params.get('m2')}",
            "eventId": params.get("eventId"),
            "expiry_time": int(time.time()) + 3600,
        }
    )


async def get(request: Request) -> Response:
    caller = request.query_params.get("caller")
    mask = request.query_params.get("mask")
    return _json(
        {
            "status": "success",
            "code": 200,
            "message": "connect",
            "action": "connect",
            "to": caller,
            "callerId": mask,
            "maskingId": _MASKING_ID,
            "eventId": None,
        }
    )


async def healthz(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type=MEDIA_TYPE)


def create_app() -> Starlette:
    # The same paths as callmask, so the router does comparable work.
    return Starlette(
        routes=[
            Route("/api/v2/Masking/set", post, methods=["POST"]),
            Route("/api/v2/Masking/unset", post, methods=["POST"]),
            Route("/api/v2/Masking/route", get, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="the bare baseline app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--workers", type=int, default=1, help="processes, as uvicorn --workers")
    args = parser.parse_args()
    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "access_log": False,
        "log_level": "warning",
        "loop": "uvloop",
        "http": "httptools",
    }
    if args.workers > 1:
        # Like `callmask serve --workers N`: each worker process imports and builds the app.
        uvicorn.run("bench.baseline:create_app", factory=True, workers=args.workers, **options)
    else:
        uvicorn.run(create_app(), **options)


if __name__ == "__main__":
    main()
