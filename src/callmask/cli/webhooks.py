"""`callmask webhook ...`: an account's callback and its delivery log."""

from __future__ import annotations

import argparse
import json

from callmask.cli.errors import CliError
from callmask.domain.reports import iso
from callmask.domain.webhooks import delivery_view
from callmask.service import Services


async def _account_of(services: Services, user_id: str) -> str:
    user = await services.accounts.user(user_id)
    if user is None:
        raise CliError(f"no user {user_id!r}")
    return user.account_id


async def _webhook_set(services: Services, args: argparse.Namespace) -> str:
    account = await _account_of(services, args.user)
    secret = await services.webhooks.set_webhook(account, args.url)
    if args.json:
        return json.dumps({"account": account, "url": args.url, "secret": secret})
    return (
        f"webhook of {account}: {args.url}\nsecret: {secret}\n"
        "(shown once; `webhook set` again makes a new one)"
    )


async def _webhook_show(services: Services, args: argparse.Namespace) -> str:
    account = await _account_of(services, args.user)
    hooks = services.webhooks
    hook = await hooks.webhook(account)
    counts = await hooks.counts(account)
    if args.json:
        url = hook.url if hook else None
        return json.dumps({"account": account, "url": url, "notices": counts})
    if hook is None:
        return f"{account} has no webhook"
    return (
        f"{account}: {hook.url} (since {iso(hook.created_ms)}); notices pending "
        f"{counts['pending']}, delivered {counts['delivered']}, failed {counts['failed']}"
    )


async def _webhook_remove(services: Services, args: argparse.Namespace) -> str:
    account = await _account_of(services, args.user)
    if not await services.webhooks.remove_webhook(account):
        raise CliError(f"{account} has no webhook")
    return f"webhook of {account} removed; its pending notices will not be sent"


async def _webhook_log(services: Services, args: argparse.Namespace) -> str:
    account = await _account_of(services, args.user)
    found = await services.webhooks.log(account, args.limit)
    if args.json:
        return json.dumps([delivery_view(delivery) for delivery in found])
    lines = [
        f"{iso(d.attempted_ms)}\t{d.event_id}\t{d.kind}\t#{d.attempt}\t"
        f"{d.http_status if d.http_status is not None else d.error}\t{d.outcome}"
        for d in found
    ]
    return "\n".join(lines) if lines else "no deliveries yet"


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    webhook = commands.add_parser("webhook", help="an account's callback").add_subparsers(
        dest="action", required=True
    )
    hook_set = webhook.add_parser("set", help="set the URL; prints a new signing secret once")
    hook_set.add_argument("--user", required=True, help="a user of the account")
    hook_set.add_argument("url", metavar="URL")
    hook_set.add_argument("--json", action="store_true")
    hook_set.set_defaults(work=_webhook_set)
    for action, work, text in (
        ("show", _webhook_show, "the URL and how many notices are pending, delivered, failed"),
        ("remove", _webhook_remove, "stop sending (pending notices are dropped)"),
        ("log", _webhook_log, "the latest delivery attempts"),
    ):
        command = webhook.add_parser(action, help=text)
        command.add_argument("--user", required=True, help="a user of the account")
        if action != "remove":
            command.add_argument("--json", action="store_true")
        if action == "log":
            command.add_argument("--limit", type=int, default=50)
        command.set_defaults(work=work)
