"""Deleting what is past the retention period, a bounded batch at a time."""

from __future__ import annotations

from callmask.domain.retention import Purged
from callmask.storage import recordings
from callmask.storage.sql import Executor

ENDED_MASKINGS = (
    "SELECT masking_id FROM maskings WHERE ended_ms IS NOT NULL AND ended_ms < ? LIMIT ?"
)


def _batch(table: str, key: str, condition: str) -> str:
    # The batch is picked once (materialised): PostgreSQL may re-run an IN (subquery ...
    # LIMIT) per row, and the batch would no longer bound the transaction.
    return (
        f"WITH old AS MATERIALIZED (SELECT {key} FROM {table} WHERE {condition} LIMIT ?)"
        f" DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM old)"
    )


OLD_CALLS = _batch("calls", "call_id", "started_ms < ?")
# A call whose start never arrived has no start time; its last event dates it.
OLD_UNSTARTED_CALLS = _batch("calls", "call_id", "started_ms IS NULL AND updated_ms < ?")
OLD_NOTICES = _batch("webhook_events", "seq", "created_ms < ?")
OLD_DELIVERIES = _batch("webhook_deliveries", "id", "attempted_ms < ?")
# One row per account and hour, holding no number: a few thousand at most, gone in one go.
OLD_REFUSALS = "DELETE FROM refusals WHERE hour_ms < ?"


async def purge_step(db: Executor, cutoff_ms: int, limit: int) -> Purged:
    ended = [str(row[0]) for row in await db.fetch(ENDED_MASKINGS, cutoff_ms, limit)]
    if ended:
        marks = ", ".join("?" * len(ended))
        # An ended masking has no claims left; this only guards the foreign key.
        await db.execute(f"DELETE FROM claims WHERE masking_id IN ({marks})", *ended)
        await db.execute(f"DELETE FROM maskings WHERE masking_id IN ({marks})", *ended)
    calls = await db.execute(OLD_CALLS, cutoff_ms, limit)
    calls += await db.execute(OLD_UNSTARTED_CALLS, cutoff_ms, limit)
    notices = await db.execute(OLD_NOTICES, cutoff_ms, limit)
    deliveries = await db.execute(OLD_DELIVERIES, cutoff_ms, limit)
    await db.execute(OLD_REFUSALS, cutoff_ms)
    removed = await recordings.purge(db, cutoff_ms, limit)
    files = tuple(file for file in removed if file is not None)
    return Purged(len(ended), calls, notices, deliveries, len(removed), files)
