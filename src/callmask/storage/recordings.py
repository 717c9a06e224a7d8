"""Call recordings' rows: asked at answer (the proxy's recording event), finished when the
call's audio is written, listed with their calls, served to the call's account, purged."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from callmask.domain.recordings import Recording, Status
from callmask.storage.sql import Executor

COLUMNS = (
    "r.recording_id, r.call_id, r.status, r.reason, r.file, r.duration_ms, r.size,"
    " r.created_ms, r.updated_ms, c.account_id"
)
_FROM = "FROM recordings r LEFT JOIN calls c ON c.call_id = r.call_id"
# The first report for a call wins: a replayed event changes nothing.
NOTE = (
    "INSERT INTO recordings (call_id, recording_id, status, reason, created_ms, updated_ms)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (call_id) DO NOTHING"
)
BY_CALL = f"SELECT {COLUMNS} {_FROM} WHERE r.call_id = ?"
BY_ID = f"SELECT {COLUMNS} {_FROM} WHERE r.recording_id = ?"
# Only a recording still under way is finished, once.
FINISH = (
    "UPDATE recordings SET status = ?, reason = ?, file = ?, duration_ms = ?, size = ?,"
    " updated_ms = ? WHERE call_id = ? AND status = 'recording'"
)
# Past retention with the calls they belong to (a recording is made at the call's answer):
# the rows go, and their files after the commit.
OLD = (
    "WITH old AS MATERIALIZED (SELECT call_id FROM recordings WHERE created_ms < ? LIMIT ?)"
    " DELETE FROM recordings WHERE call_id IN (SELECT call_id FROM old) RETURNING file"
)


def recording(row: Sequence[Any]) -> Recording:
    return Recording(*row)


async def note(
    db: Executor, call_id: str, recording_id: str, status: Status, reason: str | None, now_ms: int
) -> bool:
    """The proxy's word at answer; False if the call already had a recording row."""
    return await db.execute(NOTE, call_id, recording_id, status, reason, now_ms, now_ms) > 0


async def by_call(db: Executor, call_id: str) -> Recording | None:
    rows = await db.fetch(BY_CALL, call_id)
    return recording(rows[0]) if rows else None


async def by_id(db: Executor, recording_id: str) -> Recording | None:
    rows = await db.fetch(BY_ID, recording_id)
    return recording(rows[0]) if rows else None


async def of_calls(db: Executor, call_ids: Sequence[str]) -> dict[str, Recording]:
    if not call_ids:
        return {}
    marks = ", ".join("?" * len(call_ids))
    rows = await db.fetch(f"SELECT {COLUMNS} {_FROM} WHERE r.call_id IN ({marks})", *call_ids)
    return {row[1]: recording(row) for row in rows}


async def finish(db: Executor, done: Recording, now_ms: int) -> bool:
    """Write the outcome of a recording under way; False if it was not (finished already)."""
    d = done
    changed = await db.execute(
        FINISH, d.status, d.reason, d.file, d.duration_ms, d.size, now_ms, d.call_id
    )
    return changed > 0


async def purge(db: Executor, cutoff_ms: int, limit: int) -> list[str | None]:
    """Delete a batch of recordings made before cutoff_ms; return their files (None: none)."""
    return [
        None if row[0] is None else str(row[0]) for row in await db.fetch(OLD, cutoff_ms, limit)
    ]
