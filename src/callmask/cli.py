"""The callmask command: serve, migrate, and user, ssid and pool administration."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from callmask import logs, operations
from callmask.accounts import fingerprint
from callmask.config import ConfigError, Settings
from callmask.domain.errors import MaskingError
from callmask.domain.numbers import E164, normalise
from callmask.domain.permissions import Permission, parse_permissions, stored
from callmask.domain.reports import iso
from callmask.operations import CliError
from callmask.service import MaskingService, Principal
from callmask.sip import kamailio
from callmask.sip.kamailio import KamailioOptions
from callmask.storage import open_store
from callmask.storage.base import StorageError

_DEV_ROUTER = "kamailio-dev"


def _numbers(values: Sequence[str], region: str) -> list[E164]:
    try:
        return [normalise(value, "number", region) for value in values]
    except MaskingError as error:
        bad = next(v for v in values if not _valid(v, region))
        raise CliError(f"{bad!r}: {error.detail}") from None


def _valid(value: str, region: str) -> bool:
    try:
        normalise(value, "number", region)
    except MaskingError:
        return False
    return True


def _range(start: str, count: int, region: str) -> list[E164]:
    first = _numbers([start], region)[0]
    if count <= 0 or count > 100_000:
        raise CliError("COUNT must be between 1 and 100000")
    digits = int(first[1:])
    return _numbers([f"+{digits + offset}" for offset in range(count)], region)


async def _with_service(
    settings: Settings, work: Callable[[MaskingService], Awaitable[Any]]
) -> Any:
    store = open_store(settings)
    try:
        await store.migrate()
        return await work(MaskingService(store, settings))
    finally:
        await store.close()


async def _user_add(service: MaskingService, args: argparse.Namespace) -> str:
    if await service.store.user(args.user_id) is not None:
        raise CliError(f"user {args.user_id!r} exists")
    chosen = parse_permissions([args.permissions]) if args.permissions is not None else None
    token = await service.add_user(args.user_id, args.role, args.account, chosen)
    user = await service.store.user(args.user_id)
    permissions = sorted(p.value for p in user.permissions) if user else []
    if args.json:
        return json.dumps(
            {"userId": args.user_id, "role": args.role, "token": token, "permissions": permissions}
        )
    return (
        f"user {args.user_id} ({args.role}) created, permissions: {_listed(permissions)}\n"
        f"token: {token}\n(shown once; only its hash is stored)"
    )


def _listed(permissions: list[str]) -> str:
    return ", ".join(permissions) if permissions else "none"


async def _user_permissions(service: MaskingService, args: argparse.Namespace) -> str:
    chosen = parse_permissions(args.permissions)
    if args.action == "grant":
        after = await service.change_permissions(args.user_id, grant=chosen)
    else:
        after = await service.change_permissions(args.user_id, revoke=chosen)
    if after is None:
        raise CliError(f"no user {args.user_id!r}")
    permissions = stored(after).split(",") if after else []
    if args.json:
        return json.dumps({"userId": args.user_id, "permissions": permissions})
    return f"{args.user_id}: {_listed(permissions)} (other processes see it within 5 s)"


async def _user_rotate(service: MaskingService, args: argparse.Namespace) -> str:
    if args.grace_minutes < 0:
        raise CliError("--grace-minutes must be 0 or more")
    token = await service.rotate_token(args.user_id, args.grace_minutes)
    if token is None:
        raise CliError(f"no user {args.user_id!r}")
    until_ms = service.now_ms() + args.grace_minutes * 60_000 if args.grace_minutes else None
    if args.json:
        grace = until_ms // 1000 if until_ms is not None else None
        return json.dumps({"userId": args.user_id, "token": token, "oldTokenUntil": grace})
    if until_ms is None:
        old = "the old one no longer works (other API processes: within 5 s)"
    else:
        old = f"the old one works until {iso(until_ms)}; --grace-minutes 0 ends it at once"
    return f"new token for {args.user_id}: {token}\n({old})"


async def _ssid_create(service: MaskingService, args: argparse.Namespace) -> str:
    user = await service.store.user(args.user_id)
    if user is None:
        raise CliError(f"no user {args.user_id!r}")
    ssid, expires_ms = await service.create_ssid(
        Principal(user.user_id, user.account_id, user.role, user.permissions)
    )
    if args.json:
        return json.dumps({"userId": user.user_id, "ssid": ssid, "expiry_time": expires_ms // 1000})
    return f"ssid: {ssid}\nexpires: {expires_ms // 1000} (unix seconds)"


async def _ssid_list(service: MaskingService, args: argparse.Namespace) -> str:
    if await service.store.user(args.user) is None:
        raise CliError(f"no user {args.user!r}")
    sessions = await service.ssids(args.user)
    now_ms = service.now_ms()
    if args.json:
        return json.dumps(
            [
                {
                    "fingerprint": fingerprint(s),
                    "userId": s.user_id,
                    "expiry_time": s.expires_ms // 1000,
                    "expired": s.expires_ms <= now_ms,
                }
                for s in sessions
            ]
        )
    lines = [
        f"{fingerprint(s)}\t{s.user_id}\t{'expired' if s.expires_ms <= now_ms else 'expires'}"
        f" {iso(s.expires_ms)}"
        for s in sessions
    ]
    return "\n".join(lines) if lines else f"{args.user} has no ssid"


async def _ssid_revoke(service: MaskingService, args: argparse.Namespace) -> str:
    if (args.ssid is None) == (args.user is None):
        raise CliError("give an SSID or --user USERID (all of that user's)")
    if args.ssid is not None:
        if not await service.revoke_ssid(args.ssid):
            raise CliError("no such ssid (unknown, or already expired and swept)")
        return "ssid revoked"
    if await service.store.user(args.user) is None:
        raise CliError(f"no user {args.user!r}")
    return f"revoked {await service.revoke_ssids(args.user)} ssids of {args.user}"


async def _pool_add(service: MaskingService, args: argparse.Namespace) -> str:
    region = service.settings.default_region
    user = await service.store.user(args.user)
    if user is None:
        raise CliError(f"no user {args.user!r}")
    if args.range:
        numbers = _range(args.range[0], int(args.range[1]), region)
    elif args.file:
        lines = [line.split("#")[0].strip() for line in Path(args.file).read_text().splitlines()]
        numbers = _numbers([line for line in lines if line], region)
    else:
        numbers = _numbers(args.numbers, region)
    if not numbers:
        raise CliError("no numbers given: NUMBER..., --range START COUNT or --file F")
    added = await service.store.add_pool_numbers(user.account_id, numbers, service.now_ms())
    return f"added {added} of {len(numbers)} numbers to the pool of {user.account_id}"


async def _pool_list(service: MaskingService, args: argparse.Namespace) -> str:
    account = None
    if args.user:
        user = await service.store.user(args.user)
        if user is None:
            raise CliError(f"no user {args.user!r}")
        account = user.account_id
    numbers = await service.store.pool(account, service.now_ms())
    if args.json:
        return json.dumps(
            [
                {"number": n.number, "account": n.account_id, "activeMaskings": n.active_maskings}
                for n in numbers
            ]
        )
    lines = [f"{n.number}\t{n.account_id}\t{n.active_maskings} active" for n in numbers]
    return "\n".join(lines) if lines else "the pool is empty"


async def _pool_remove(service: MaskingService, args: argparse.Namespace) -> str:
    numbers = _numbers(args.numbers, service.settings.default_region)
    removed = await service.remove_pool_numbers(numbers, args.force)
    return f"removed {removed} numbers"


async def _migrate(service: MaskingService, args: argparse.Namespace) -> str:
    return "schema is current"


async def _sweep(service: MaskingService, args: argparse.Namespace) -> str:
    return f"closed {await service.sweep()} lapsed maskings"


async def _demo(service: MaskingService, args: argparse.Namespace) -> str:
    """Seed a demo client and pool if missing, and print a working curl line with a new ssid."""
    region = service.settings.default_region
    if await service.store.user("demo") is None:
        await service.add_user("demo", "client")
    await service.store.add_pool_numbers(
        "demo", _range("+918040000000", 5, region), service.now_ms()
    )
    ssid, _ = await service.create_ssid(Principal("demo", "demo", "client"))
    url = f"http://{service.settings.host}:{service.settings.port}/api/v2/Masking/set"
    body = json.dumps({"ssid": ssid, "m1": 919876543210, "m2": 919812345678, "expiry_duration": 60})
    return f"demo account ready (pool +918040000000..04). Try:\n  curl -s {url} --data-raw '{body}'"


def _kamailio_options(settings: Settings, user: str, token: str) -> KamailioOptions:
    mask_key = settings.sip_mask_key
    if not mask_key:
        mask_key = secrets.token_hex(16)
        print(
            "callmask: CALLMASK_SIP_MASK_KEY is not set; using a random one, so calls in"
            " progress will not survive a restart of Kamailio with a new configuration",
            file=sys.stderr,
        )
    trusted = tuple(ip.strip() for ip in settings.sip_trusted_pai.split(",") if ip.strip())
    return KamailioOptions(
        router_user=user,
        router_token=token,
        listen=settings.sip_listen,
        callmask_url=f"http://{settings.host}:{settings.port}",
        gateway=settings.sip_gateway,
        sip_domain=settings.sip_domain,
        trusted_pai_sources=trusted,
        mask_key=mask_key,
        redis_url=settings.events_redis_url or "redis://127.0.0.1:6379",
        events_queue=settings.events_queue,
        children=settings.sip_children,
    )


async def _dev_router(service: MaskingService) -> tuple[str, str]:
    """A router user for a local Kamailio, with a fresh token (tokens are kept only hashed)."""
    if await service.store.user(_DEV_ROUTER) is None:
        return _DEV_ROUTER, await service.add_user(_DEV_ROUTER, "router")
    token = await service.rotate_token(_DEV_ROUTER)
    assert token is not None
    return _DEV_ROUTER, token


def _sip(settings: Settings, args: argparse.Namespace) -> int:
    user, token = settings.sip_router_user, settings.sip_router_token
    if args.dev:
        user, token = asyncio.run(_with_service(settings, _dev_router))
    if not user or not token:
        print(
            "callmask: set CALLMASK_SIP_ROUTER_USER and CALLMASK_SIP_ROUTER_TOKEN to a router"
            " user's credentials (callmask user add sip --role router), or use --dev",
            file=sys.stderr,
        )
        return 2
    try:
        options = _kamailio_options(settings, user, token)
        if args.action == "config":
            text = kamailio.render(options)
            if args.out:
                kamailio.write(options, Path(args.out))
            else:
                print(text, end="")
            return 0
        folder = Path(tempfile.mkdtemp(prefix="callmask-kamailio-"))
        config = kamailio.write(options, folder / "kamailio.cfg")
        kamailio.check(config)
        print(f"callmask: Kamailio on {settings.sip_listen}, config {config}", file=sys.stderr)
        argv = kamailio.command(config)
        os.execv(argv[0], argv)
    except kamailio.KamailioError as error:
        print(f"callmask: {error}", file=sys.stderr)
        return 1


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    metrics_dir = None
    if args.workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        # Set before prometheus_client is first imported: the workers then count into files
        # in one directory, and a scrape of any worker adds up all (callmask/metrics.py).
        metrics_dir = tempfile.mkdtemp(prefix="callmask-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir

    from callmask.http.app import create_app

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
        "timeout_graceful_shutdown": 30,
        # uvicorn's own lines go to the root logger, through callmask's formatter (logs.py).
        "log_config": None,
    }
    if workers > 1:
        # Each worker process builds its own app (and database pool) from the environment.
        uvicorn.run("callmask.http.app:app_from_env", factory=True, workers=workers, **options)
    else:
        uvicorn.run(create_app(settings), **options)
    if metrics_dir is not None:
        import shutil

        shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="callmask", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP API")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, default=1, help="processes (PostgreSQL only)")
    commands.add_parser("migrate", help="apply pending schema migrations").set_defaults(
        work=_migrate
    )
    commands.add_parser("sweep", help="close lapsed maskings now").set_defaults(work=_sweep)
    operations.add_commands(commands)
    commands.add_parser("demo", help="seed a demo account and print a curl line").set_defaults(
        work=_demo
    )

    user = commands.add_parser("user", help="API users").add_subparsers(
        dest="action", required=True
    )
    add = user.add_parser("add", help="create a user and print its token once")
    add.add_argument("user_id", metavar="USERID")
    add.add_argument("--role", choices=["client", "router"], default="client")
    add.add_argument("--account", help="account the user acts for (default: USERID)")
    add.add_argument(
        "--permissions",
        metavar="P,Q",
        help="instead of the default (clients: LIST_MASKING,LIST_WEBHOOK_LOG,SET_MASKING);"
        f" known: {','.join(p.value for p in Permission)}",
    )
    add.add_argument("--json", action="store_true")
    add.set_defaults(work=_user_add)

    for action, text in (
        ("grant", "give a client user permissions"),
        ("revoke", "take permissions from a user"),
    ):
        change = user.add_parser(action, help=text)
        change.add_argument("user_id", metavar="USERID")
        change.add_argument("permissions", nargs="+", metavar="PERMISSION")
        change.add_argument("--json", action="store_true")
        change.set_defaults(work=_user_permissions)

    rotate = user.add_parser(
        "rotate", help="give a user a new token; the old one works for --grace-minutes more"
    )
    rotate.add_argument("user_id", metavar="USERID")
    rotate.add_argument(
        "--grace-minutes",
        type=int,
        default=60,
        metavar="N",
        help="how long the old token keeps working (default 60; 0: stops now, e.g. if leaked)",
    )
    rotate.add_argument("--json", action="store_true")
    rotate.set_defaults(work=_user_rotate)

    sip = commands.add_parser("sip", help="the shipped Kamailio configuration").add_subparsers(
        dest="action", required=True
    )
    for action, text in (
        ("config", "print the rendered Kamailio configuration (or write it with --out)"),
        ("run", "render the configuration and run Kamailio in the foreground"),
    ):
        command = sip.add_parser(action, help=text)
        command.add_argument(
            "--dev",
            action="store_true",
            help=f"use (and re-token) a local router user {_DEV_ROUTER}",
        )
        if action == "config":
            command.add_argument("--out", metavar="FILE", help="write here (mode 0600)")

    ssid = commands.add_parser("ssid", help="sessions").add_subparsers(dest="action", required=True)
    create = ssid.add_parser("create", help="create an ssid for a user")
    create.add_argument("user_id", metavar="USERID")
    create.add_argument("--json", action="store_true")
    create.set_defaults(work=_ssid_create)
    ssid_list = ssid.add_parser(
        "list", help="a user's ssids: a fingerprint of each (never the ssid) and its expiry"
    )
    ssid_list.add_argument("--user", required=True, metavar="USERID")
    ssid_list.add_argument("--json", action="store_true")
    ssid_list.set_defaults(work=_ssid_list)
    revoke_ssid = ssid.add_parser(
        "revoke", help="end an ssid, or all of a user's, now (every API process at once)"
    )
    revoke_ssid.add_argument("ssid", nargs="?", metavar="SSID")
    revoke_ssid.add_argument("--user", metavar="USERID", help="revoke all of this user's ssids")
    revoke_ssid.set_defaults(work=_ssid_revoke)

    pool = commands.add_parser("pool", help="pool numbers").add_subparsers(
        dest="action", required=True
    )
    pool_add = pool.add_parser("add", help="add numbers to a user's account pool")
    pool_add.add_argument("--user", required=True)
    source = pool_add.add_mutually_exclusive_group()
    source.add_argument("--range", nargs=2, metavar=("START", "COUNT"))
    source.add_argument("--file", metavar="F", help="one number per line")
    pool_add.add_argument("numbers", nargs="*", metavar="NUMBER")
    pool_add.set_defaults(work=_pool_add)
    pool_list = pool.add_parser("list", help="list pool numbers")
    pool_list.add_argument("--user")
    pool_list.add_argument("--json", action="store_true")
    pool_list.set_defaults(work=_pool_list)
    remove = pool.add_parser("remove", help="remove numbers from the pool")
    remove.add_argument("numbers", nargs="+", metavar="NUMBER")
    remove.add_argument("--force", action="store_true", help="end live maskings on them")
    remove.set_defaults(work=_pool_remove)
    return parser


def main(argv: Sequence[str] | None = None, settings: Settings | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = settings or Settings.from_env()
    except ConfigError as error:
        print(f"callmask: {error}", file=sys.stderr)
        return 2
    serving = args.command == "serve"
    logs.configure(
        settings.log_level,
        settings.log_format or ("json" if serving else "text"),
        unless_configured=not serving,
        access_log=settings.access_log == "on",
    )
    if args.command == "serve":
        return _serve(settings, args)
    if args.command == "sip":
        return _sip(settings, args)
    try:
        print(asyncio.run(_with_service(settings, lambda service: args.work(service, args))))
    except (CliError, MaskingError, StorageError, OSError, ValueError) as error:
        print(f"callmask: {getattr(error, 'detail', None) or error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
