"""An account's rules for its calls (`callmask account set`), read and written by the CLI.

The route lookup reads them itself, in its own statements (sql.ROUTE, sql.OWNER_RULES), so a
call costs no extra round trip for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from callmask.domain.rules import DEFAULT_REJECT_CODE, AccountRules
from callmask.storage.sql import Executor

COLUMNS = "account_id, call_time_limit, out_of_session, forward_to, reject_code, record"
RULES = f"SELECT {COLUMNS} FROM account_rules WHERE account_id = ?"
SET_RULES = (
    f"INSERT INTO account_rules ({COLUMNS}, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (account_id) DO UPDATE SET call_time_limit = excluded.call_time_limit,"
    " out_of_session = excluded.out_of_session, forward_to = excluded.forward_to,"
    " reject_code = excluded.reject_code, record = excluded.record,"
    " updated_ms = excluded.updated_ms"
)
# There is no table of accounts: an account is named by its users and its pool numbers.
KNOWN = (
    "SELECT EXISTS (SELECT 1 FROM users WHERE account_id = ?)"
    " OR EXISTS (SELECT 1 FROM pool_numbers WHERE account_id = ?)"
)


def account_rules(row: Sequence[Any]) -> AccountRules:
    """AccountRules from a row of COLUMNS; an account without a row of its own has NULLs."""
    return AccountRules(
        row[0],
        row[1],
        row[2] or "reject",
        row[3],
        row[4] or DEFAULT_REJECT_CODE,
        None if row[5] is None else bool(row[5]),
    )


async def rules(db: Executor, account_id: str) -> AccountRules | None:
    rows = await db.fetch(RULES, account_id)
    return account_rules(rows[0]) if rows else None


async def set_rules(db: Executor, rules: AccountRules, now_ms: int) -> None:
    r = rules
    await db.execute(
        SET_RULES,
        r.account_id,
        r.call_time_limit,
        r.out_of_session,
        r.forward_to,
        r.reject_code,
        r.record,
        now_ms,
    )


async def known(db: Executor, account_id: str) -> bool:
    [(found,)] = await db.fetch(KNOWN, account_id, account_id)
    return bool(found)
