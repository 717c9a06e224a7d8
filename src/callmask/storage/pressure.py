"""How close each account's pool is to answering 1505, and whether the schema is current.

A new masking needs a pool number that neither party holds a live claim on, so the party
holding the most live claims decides when an account runs out: its claim count against the
pool size is the headroom that predicts 1505. Live maskings are half the live claims (one
claim per party; claims go with their masking when it ends), so one pass over the live
claims gives both figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from callmask.domain.pool import AccountPressure
from callmask.storage.migrations import migrations

POOL_SIZES = "SELECT account_id, count(*) FROM pool_numbers GROUP BY account_id"
# claims_expiry finds the live claims; pool_numbers' key names each claim's account.
LIVE_CLAIMS = (
    "SELECT account_id, sum(held), max(held) FROM ("
    " SELECT p.account_id AS account_id, c.party AS party, count(*) AS held"
    " FROM claims c JOIN pool_numbers p ON p.number = c.mask"
    " WHERE c.expires_ms > ? GROUP BY p.account_id, c.party"
    ") AS per_party GROUP BY account_id"
)

# webhook_events_account (account_id, status) answers it.
WEBHOOK_PENDING = (
    "SELECT account_id, count(*) FROM webhook_events WHERE status = 'pending' GROUP BY account_id"
)


def combine(
    pools: Sequence[Sequence[Any]],
    claims: Sequence[Sequence[Any]],
    pending_notices: Sequence[Sequence[Any]] = (),
) -> list[AccountPressure]:
    sizes = {str(row[0]): int(row[1]) for row in pools}
    held = {str(row[0]): (int(row[1]) // 2, int(row[2])) for row in claims}
    waiting = {str(row[0]): int(row[1]) for row in pending_notices}
    return [
        AccountPressure(
            account, sizes.get(account, 0), *held.get(account, (0, 0)), waiting.get(account, 0)
        )
        for account in sorted(sizes.keys() | held.keys() | waiting.keys())
    ]


def pending(dialect: str, applied: Sequence[Sequence[Any]]) -> list[int]:
    """Shipped migrations that the database has not applied."""
    done = {int(row[0]) for row in applied}
    return [m.version for m in migrations(dialect) if m.version not in done]
