"""Operator commands for webhooks and retention (`callmask webhook ...`, `callmask purge`)."""

from __future__ import annotations

import argparse
import json

from callmask import retention
from callmask.domain.reports import iso
from callmask.domain.webhooks import delivery_view
from callmask.service import MaskingService
from callmask.webhooks import Webhooks


class CliError(Exception):
    """Ends the command with a one-line message and exit status 1."""


async def _purge(service: MaskingService, args: argparse.Namespace) -> str:
    days = service.settings.retention_days if args.days is None else args.days
    if days <= 0:
        return "retention is off (CALLMASK_RETENTION_DAYS=0): nothing purged"
    closed = await service.sweep()
    cutoff = retention.cutoff_ms(service.now_ms(), days)
    purged = await retention.purge(service.store, cutoff)
    counts = {
        "maskings": purged.maskings,
        "calls": purged.calls,
        "notices": purged.notices,
        "deliveries": purged.deliveries,
    }
    if args.json:
        return json.dumps({"before": iso(cutoff), "swept": closed, **counts})
    listed = ", ".join(f"{number} {name}" for name, number in counts.items())
    return f"purged what ended before {iso(cutoff)}: {listed}"


async def _account_of(service: MaskingService, user_id: str) -> str:
    user = await service.store.user(user_id)
    if user is None:
        raise CliError(f"no user {user_id!r}")
    return user.account_id


def _webhooks(service: MaskingService) -> Webhooks:
    return Webhooks(service.store, service.settings)


async def _webhook_set(service: MaskingService, args: argparse.Namespace) -> str:
    account = await _account_of(service, args.user)
    secret = await _webhooks(service).set_webhook(account, args.url)
    if args.json:
        return json.dumps({"account": account, "url": args.url, "secret": secret})
    return (
        f"webhook of {account}: {args.url}\nsecret: {secret}\n"
        "(shown once; `webhook set` again makes a new one)"
    )


async def _webhook_show(service: MaskingService, args: argparse.Namespace) -> str:
    account = await _account_of(service, args.user)
    hooks = _webhooks(service)
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


async def _webhook_remove(service: MaskingService, args: argparse.Namespace) -> str:
    account = await _account_of(service, args.user)
    if not await _webhooks(service).remove_webhook(account):
        raise CliError(f"{account} has no webhook")
    return f"webhook of {account} removed; its pending notices will not be sent"


async def _webhook_log(service: MaskingService, args: argparse.Namespace) -> str:
    account = await _account_of(service, args.user)
    found = await _webhooks(service).log(account, args.limit)
    if args.json:
        return json.dumps([delivery_view(delivery) for delivery in found])
    lines = [
        f"{iso(d.attempted_ms)}\t{d.event_id}\t{d.kind}\t#{d.attempt}\t"
        f"{d.http_status if d.http_status is not None else d.error}\t{d.outcome}"
        for d in found
    ]
    return "\n".join(lines) if lines else "no deliveries yet"


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add purge and webhook to the callmask command's subcommands."""
    purge = commands.add_parser("purge", help="delete what ended past the retention period")
    purge.add_argument("--days", type=int, help="instead of CALLMASK_RETENTION_DAYS")
    purge.add_argument("--json", action="store_true")
    purge.set_defaults(work=_purge)

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
