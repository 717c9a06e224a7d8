"""`callmask purge`: delete what ended past the retention period."""

from __future__ import annotations

import argparse
import json

from callmask.domain.reports import iso
from callmask.service import Services


async def _purge(services: Services, args: argparse.Namespace) -> str:
    days = services.retention.days if args.days is None else args.days
    if days <= 0:
        return "retention is off (CALLMASK_RETENTION_DAYS=0): nothing purged"
    closed = await services.maskings.sweep()
    cutoff = services.retention.cutoff(days)
    purged = await services.retention.purge(cutoff)
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


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    purge = commands.add_parser("purge", help="delete what ended past the retention period")
    purge.add_argument("--days", type=int, help="instead of CALLMASK_RETENTION_DAYS")
    purge.add_argument("--json", action="store_true")
    purge.set_defaults(work=_purge)
