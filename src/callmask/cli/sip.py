"""`callmask sip config|check|run`: the shipped Kamailio configuration, rendered for this
install, checked by Kamailio, or run."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from callmask import bootstrap
from callmask.config import Settings
from callmask.service import Services

_DEV_ROUTER = "kamailio-dev"


async def _dev_router(services: Services) -> tuple[str, str]:
    """A router user for a local Kamailio, with a fresh token (tokens are kept only hashed)."""
    if await services.accounts.user(_DEV_ROUTER) is None:
        return _DEV_ROUTER, await services.accounts.add_user(_DEV_ROUTER, "router")
    token = await services.accounts.rotate_token(_DEV_ROUTER)
    assert token is not None
    return _DEV_ROUTER, token


async def _dev_credentials(settings: Settings) -> tuple[str, str]:
    async with bootstrap.session(settings) as services:
        return await _dev_router(services)


def _check_file(path: str) -> int:
    try:
        bootstrap.kamailio_check_file(Path(path))
    except ValueError as error:  # KamailioError: Kamailio's complaint
        print(f"callmask: {path}: {error}", file=sys.stderr)
        return 1
    print(f"ok: kamailio accepts {path}")
    return 0


def run(settings: Settings, args: argparse.Namespace) -> int:
    if args.action == "check" and args.file:
        return _check_file(args.file)
    user, token = settings.sip_router_user, settings.sip_router_token
    if args.dev:
        user, token = asyncio.run(_dev_credentials(settings))
    if not user or not token:
        print(
            "callmask: set CALLMASK_SIP_ROUTER_USER and CALLMASK_SIP_ROUTER_TOKEN to a router"
            " user's credentials (callmask user add sip --role router), or use --dev",
            file=sys.stderr,
        )
        return 2
    try:
        if args.action == "config":
            text = bootstrap.kamailio_config(
                settings, user, token, Path(args.out) if args.out else None, args.dev
            )
            if text is not None:
                print(text, end="")
            return 0
        if args.action == "check":
            bootstrap.kamailio_check(settings, user, token, args.dev)
            print("ok: kamailio accepts the configuration rendered from the settings")
            return 0
        config, argv = bootstrap.kamailio_run(settings, user, token, args.dev)
        print(f"callmask: Kamailio on {settings.sip_listen}, config {config}", file=sys.stderr)
        os.execv(argv[0], argv)
    # KamailioError (a ValueError): a value the script cannot hold, or a configuration Kamailio
    # refuses; OSError: a file that cannot be written.
    except (ValueError, OSError) as error:
        print(f"callmask: {error}", file=sys.stderr)
        return 1


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sip = commands.add_parser("sip", help="the shipped Kamailio configuration").add_subparsers(
        dest="action", required=True
    )
    for action, text in (
        ("config", "print the rendered Kamailio configuration (or write it with --out)"),
        ("check", "have Kamailio check the rendered configuration (kamailio -c), or --file"),
        ("run", "render the configuration and run Kamailio in the foreground"),
    ):
        command = sip.add_parser(action, help=text)
        source = command.add_mutually_exclusive_group() if action == "check" else command
        source.add_argument(
            "--dev",
            action="store_true",
            help=f"use (and re-token) a local router user {_DEV_ROUTER}",
        )
        if action == "check":
            source.add_argument(
                "--file", metavar="FILE", help="check this rendered file instead (no credentials)"
            )
        if action == "config":
            command.add_argument(
                "--out",
                metavar="FILE",
                help="write here (mode 0640, group kamailio, so Debian's kamailio user reads it)",
            )
