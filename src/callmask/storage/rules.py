"""An account's rules for its calls (`callmask account set`), read and written by the CLI.

The route lookup reads them itself, in its own statements (sql.ROUTE), so a call costs no
extra round trip for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from callmask.domain.rules import AccountRules
from callmask.storage.sql import Executor

RULES = "SELECT account_id, call_time_limit FROM account_rules WHERE account_id = ?"
SET_RULES = (
    "INSERT INTO account_rules (account_id, call_time_limit, updated_ms) VALUES (?, ?, ?)"
    " ON CONFLICT (account_id) DO UPDATE SET call_time_limit = excluded.call_time_limit,"
    " updated_ms = excluded.updated_ms"
)
# There is no table of accounts: an account is named by its users and its pool numbers.
KNOWN = (
    "SELECT EXISTS (SELECT 1 FROM users WHERE account_id = ?)"
    " OR EXISTS (SELECT 1 FROM pool_numbers WHERE account_id = ?)"
)


def _rules(row: Sequence[Any]) -> AccountRules:
    return AccountRules(row[0], row[1])


async def rules(db: Executor, account_id: str) -> AccountRules | None:
    rows = await db.fetch(RULES, account_id)
    return _rules(rows[0]) if rows else None


async def set_rules(db: Executor, rules: AccountRules, now_ms: int) -> None:
    await db.execute(SET_RULES, rules.account_id, rules.call_time_limit, now_ms)


async def known(db: Executor, account_id: str) -> bool:
    [(found,)] = await db.fetch(KNOWN, account_id, account_id)
    return bool(found)
