"""The callmask command: serve, migrate, and user, ssid and pool administration."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import Any

from callmask import bootstrap, logs
from callmask.cli import accounts, pool, retention, serve, sip, webhooks
from callmask.cli.errors import CliError
from callmask.config import ConfigError, Settings
from callmask.domain.errors import MaskingError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="callmask", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    # In this order in --help.
    serve.add_commands(commands)
    retention.add_commands(commands)
    webhooks.add_commands(commands)
    pool.add_demo_command(commands)
    accounts.add_user_commands(commands)
    accounts.add_account_commands(commands)
    sip.add_commands(commands)
    accounts.add_ssid_commands(commands)
    pool.add_pool_commands(commands)
    return parser


async def _work(settings: Settings, args: argparse.Namespace) -> Any:
    async with bootstrap.session(settings) as services:
        return await args.work(services, args)


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
        return serve.run(settings, args)
    if args.command == "sip":
        return sip.run(settings, args)
    try:
        print(asyncio.run(_work(settings, args)))
    except (CliError, MaskingError, bootstrap.StoreFailed, OSError, ValueError) as error:
        print(f"callmask: {getattr(error, 'detail', None) or error}", file=sys.stderr)
        return error.status if isinstance(error, CliError) else 1
    return 0
