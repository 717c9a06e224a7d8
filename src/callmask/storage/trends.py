"""The console's figures over time: the statements behind service/insights.py, on either backend.

Each reads one account through an index that starts with the account and the time
(maskings_account_created, calls_account_started, the refusals' key).
"""

from __future__ import annotations

from callmask.domain.trends import HOUR_MS
from callmask.storage.sql import Executor

NOTE_REFUSAL = (
    "INSERT INTO refusals (account_id, hour_ms, count) VALUES (?, ?, 1)"
    " ON CONFLICT (account_id, hour_ms) DO UPDATE SET count = refusals.count + 1"
)
REFUSALS = (
    "SELECT hour_ms, count FROM refusals WHERE account_id = ? AND hour_ms > ? ORDER BY hour_ms"
)
MASKINGS_SINCE = "SELECT count(*) FROM maskings WHERE account_id = ? AND created_ms >= ?"
CALLS_SINCE = "SELECT count(*) FROM calls WHERE account_id = ? AND started_ms >= ?"
# A masking is live from its creation until it ended, or until its expiry while open.
SPANS = (
    "SELECT m1, m2, created_ms, COALESCE(ended_ms, expires_ms) FROM maskings"
    " WHERE account_id = ? AND created_ms >= ? AND created_ms < ?"
    " AND COALESCE(ended_ms, expires_ms) > ?"
)
CALL_FACTS = (
    "SELECT started_ms, outcome, answered_ms, duration_s FROM calls"
    " WHERE account_id = ? AND started_ms >= ? AND started_ms < ?"
)


async def note_refusal(db: Executor, account_id: str, now_ms: int) -> None:
    await db.execute(NOTE_REFUSAL, account_id, now_ms - now_ms % HOUR_MS)


async def refusals(db: Executor, account_id: str, since_ms: int) -> list[tuple[int, int]]:
    """Per hour, the 1505s answered from the hour since_ms falls in."""
    rows = await db.fetch(REFUSALS, account_id, since_ms - HOUR_MS)
    return [(int(row[0]), int(row[1])) for row in rows]


async def count(db: Executor, statement: str, account_id: str, since_ms: int) -> int:
    [(found,)] = await db.fetch(statement, account_id, since_ms)
    return int(found)


async def masking_spans(
    db: Executor, account_id: str, from_ms: int, to_ms: int, created_since_ms: int
) -> list[tuple[str, str, int, int]]:
    rows = await db.fetch(SPANS, account_id, created_since_ms, to_ms, from_ms)
    return [(str(row[0]), str(row[1]), int(row[2]), int(row[3])) for row in rows]


async def call_facts(
    db: Executor, account_id: str, start_ms: int, end_ms: int
) -> list[tuple[int, str, int | None, int | None]]:
    rows = await db.fetch(CALL_FACTS, account_id, start_ms, end_ms)
    return [(int(row[0]), str(row[1] or ""), row[2], row[3]) for row in rows]
