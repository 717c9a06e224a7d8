"""`callmask serve`, `callmask migrate` and `callmask sweep`."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from typing import Any

from callmask import bootstrap
from callmask.config import Settings
from callmask.service import Services

REQUESTS_GRACE_S = 2


def run(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    metrics_dir = None
    if args.workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        # Set before prometheus_client is first imported: the workers then count into files
        # in one directory, and a scrape of any worker adds up all (http/metrics.py).
        metrics_dir = tempfile.mkdtemp(prefix="callmask-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir

    workers = args.workers
    if workers > 1 and settings.database_url.startswith("sqlite:"):
        print(
            "callmask: SQLite wants one writing process; use PostgreSQL for --workers > 1",
            file=sys.stderr,
        )
        return 2
    options: dict[str, Any] = {
        "host": args.host or settings.host,
        "port": args.port or settings.port,
        # The access log would write query strings, and route lookups carry phone numbers.
        "access_log": False,
        "log_level": settings.log_level.lower(),
        "loop": "uvloop",
        "http": "httptools",
        # After SIGTERM, requests in flight get this long before they are cancelled, so a
        # client that stalls mid-body (http/body.py waits 10 s for one) cannot hold the stop;
        # the workers beside the API then stop together within 1.5 s: under 5 s in all
        # (docs/decisions.md, "Stopping within 5 seconds").
        "timeout_graceful_shutdown": REQUESTS_GRACE_S,
        # uvicorn's own lines go to the root logger, through callmask's formatter (logs.py).
        "log_config": None,
        # X-Forwarded-For is believed only from CALLMASK_TRUSTED_PROXIES (http/guard.py);
        # uvicorn's own handling would believe it from 127.0.0.1 whatever the setting says.
        "proxy_headers": False,
    }
    if workers > 1:
        # Each worker process builds its own app (and database pool) from the environment.
        uvicorn.run("callmask.bootstrap:app_from_env", factory=True, workers=workers, **options)
    else:
        uvicorn.run(bootstrap.create_app(settings), **options)
    if metrics_dir is not None:
        import shutil

        shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


async def _migrate(services: Services, args: argparse.Namespace) -> str:
    return "schema is current"


async def _sweep(services: Services, args: argparse.Namespace) -> str:
    return f"closed {await services.maskings.sweep()} lapsed maskings"


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser("serve", help="run the HTTP API")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, default=1, help="processes (PostgreSQL only)")
    commands.add_parser("migrate", help="apply pending schema migrations").set_defaults(
        work=_migrate
    )
    commands.add_parser("sweep", help="close lapsed maskings now").set_defaults(work=_sweep)
