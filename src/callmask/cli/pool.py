"""`callmask pool ...` and `callmask demo`: the pool of virtual numbers."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from callmask.cli.errors import CliError
from callmask.domain.errors import InvalidParameters, MaskingError
from callmask.domain.numbers import E164, normalise
from callmask.domain.permissions import Permission
from callmask.service import Services
from callmask.service.accounts import Principal


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


async def _pool_add(services: Services, args: argparse.Namespace) -> str:
    region = services.context.settings.default_region
    user = await services.accounts.user(args.user)
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
    added = await services.pool.add(user.account_id, numbers)
    return f"added {added} of {len(numbers)} numbers to the pool of {user.account_id}"


async def _pool_list(services: Services, args: argparse.Namespace) -> str:
    account = None
    if args.user:
        user = await services.accounts.user(args.user)
        if user is None:
            raise CliError(f"no user {args.user!r}")
        account = user.account_id
    numbers = await services.pool.numbers(account)
    if args.json:
        return json.dumps(
            [
                {"number": n.number, "account": n.account_id, "activeMaskings": n.active_maskings}
                for n in numbers
            ]
        )
    lines = [f"{n.number}\t{n.account_id}\t{n.active_maskings} active" for n in numbers]
    return "\n".join(lines) if lines else "the pool is empty"


async def _pool_remove(services: Services, args: argparse.Namespace) -> str:
    numbers = _numbers(args.numbers, services.context.settings.default_region)
    try:
        removed = await services.pool.remove(numbers, args.force)
    except InvalidParameters as error:
        hint = "" if args.force else " (--force ends live maskings)"
        raise CliError(f"{error.detail}{hint}") from None
    return f"removed {removed} numbers"


async def _demo(services: Services, args: argparse.Namespace) -> str:
    """Seed a demo client and pool if missing; print a working curl line with a new ssid, and
    the console's address with the demo user's credentials (a new token each run: only its
    hash is kept, so an earlier one cannot be shown again)."""
    region = services.context.settings.default_region
    accounts = services.accounts
    if await accounts.user("demo") is None:
        token = await accounts.add_user("demo", "client", permissions=frozenset(Permission))
    else:
        await accounts.change_permissions("demo", grant=frozenset(Permission))
        token = await accounts.rotate_token("demo") or ""
    await services.pool.add("demo", _range("+918040000000", 5, region))
    ssid, _ = await accounts.create_ssid(Principal("demo", "demo", "client"))
    settings = services.context.settings
    base = f"http://{settings.host}:{settings.port}"
    body = json.dumps({"ssid": ssid, "m1": 919876543210, "m2": 919812345678, "expiry_duration": 60})
    lines = [
        "demo account ready (pool +918040000000..04). Try:",
        f"  curl -s {base}/api/v2/Masking/set --data-raw '{body}'",
    ]
    if settings.console == "on":
        lines.append(f"Console: {base}/console  (sign in with userId demo, token {token})")
    return "\n".join(lines)


def add_demo_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    commands.add_parser("demo", help="seed a demo account and print a curl line").set_defaults(
        work=_demo
    )


def add_pool_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
