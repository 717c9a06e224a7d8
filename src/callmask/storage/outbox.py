"""Webhooks in the database: each account's callback, the outbox of notices, the delivery log."""

from __future__ import annotations

from callmask.domain.webhooks import Attempt, Claimed, Delivery, DeliveryQuery, Notice, Webhook
from callmask.storage.sql import Executor

# Only accounts with a webhook get notices: everyone else pays one index probe per change.
# CASTs: PostgreSQL types a bare parameter in a SELECT list as text.
INSERT_NOTICE = (
    "INSERT INTO webhook_events (event_id, account_id, kind, dedup_key, body, created_ms,"
    " status, attempts, next_attempt_ms)"
    " SELECT ?, ?, ?, ?, ?, CAST(? AS BIGINT), 'pending', 0, CAST(? AS BIGINT)"
    " WHERE EXISTS (SELECT 1 FROM webhooks WHERE account_id = ?)"
    " ON CONFLICT (dedup_key) DO NOTHING"
)
SET_WEBHOOK = (
    "INSERT INTO webhooks (account_id, url, secret, created_ms) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (account_id) DO UPDATE SET url = excluded.url, secret = excluded.secret,"
    " created_ms = excluded.created_ms"
)
WEBHOOK = "SELECT account_id, url, secret, created_ms FROM webhooks WHERE account_id = ?"
HAS_WEBHOOK = "SELECT 1 FROM webhooks WHERE account_id = ?"
REMOVE_WEBHOOK = "DELETE FROM webhooks WHERE account_id = ?"
FAIL_PENDING_OF = (
    "UPDATE webhook_events SET status = 'failed' WHERE account_id = ? AND status = 'pending'"
)
OUTBOX_COUNTS = "SELECT status, count(*) FROM webhook_events WHERE account_id = ? GROUP BY status"
# A lease: the notice is due again only after lease_ms, by when its attempt has long ended
# (or its process died, and another one takes it over). The due rows are picked once, in a
# materialised CTE: as an IN (subquery ... LIMIT) PostgreSQL may re-run the subquery per row
# and take more than asked. The outer conditions let it skip a row another process changed.
_CLAIM = (
    "WITH due AS MATERIALIZED (SELECT seq FROM webhook_events"
    " WHERE status = 'pending' AND next_attempt_ms <= ?"
    " ORDER BY next_attempt_ms, seq LIMIT ?{lock})"
    " UPDATE webhook_events SET next_attempt_ms = ?, attempts = attempts + 1"
    " WHERE status = 'pending' AND next_attempt_ms <= ? AND seq IN (SELECT seq FROM due)"
    " RETURNING seq, event_id, account_id, kind, body, attempts"
)
FAIL_NOTICE = "UPDATE webhook_events SET status = 'failed' WHERE seq = ? AND status = 'pending'"
DELIVERED = (
    "UPDATE webhook_events SET status = 'delivered', delivered_ms = ?"
    " WHERE seq = ? AND status = 'pending'"
)
RETRY_AT = "UPDATE webhook_events SET next_attempt_ms = ? WHERE seq = ? AND status = 'pending'"
POSTPONE_ACCOUNT = (
    "UPDATE webhook_events SET next_attempt_ms = ?"
    " WHERE account_id = ? AND status = 'pending' AND next_attempt_ms < ?"
)
LOG_ATTEMPT = (
    "INSERT INTO webhook_deliveries (event_id, account_id, kind, attempt, attempted_ms, url,"
    " http_status, error, duration_ms, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
DELIVERY_COLUMNS = (
    "id, event_id, kind, attempt, attempted_ms, url, http_status, error, duration_ms, outcome"
)


async def notify(db: Executor, notices: list[Notice]) -> int:
    written = 0
    for n in notices:
        written += await db.execute(
            INSERT_NOTICE,
            n.event_id,
            n.account_id,
            n.kind,
            n.dedup_key,
            n.body,
            n.created_ms,
            n.created_ms,
            n.account_id,
        )
    return written


async def has_webhook(db: Executor, account_id: str) -> bool:
    return bool(await db.fetch(HAS_WEBHOOK, account_id))


async def set_webhook(db: Executor, webhook: Webhook) -> None:
    w = webhook
    await db.execute(SET_WEBHOOK, w.account_id, w.url, w.secret, w.created_ms)


async def webhook(db: Executor, account_id: str) -> Webhook | None:
    rows = await db.fetch(WEBHOOK, account_id)
    return Webhook(*rows[0]) if rows else None


async def remove_webhook(db: Executor, account_id: str) -> bool:
    await db.execute(FAIL_PENDING_OF, account_id)
    return await db.execute(REMOVE_WEBHOOK, account_id) == 1


async def outbox_counts(db: Executor, account_id: str) -> dict[str, int]:
    counts = {"pending": 0, "delivered": 0, "failed": 0}
    for status, number in await db.fetch(OUTBOX_COUNTS, account_id):
        counts[str(status)] = int(number)
    return counts


async def claim(db: Executor, now_ms: int, lease_ms: int, limit: int) -> list[Claimed]:
    # Several PostgreSQL processes claim at once: each skips the rows another one has locked.
    lock = " FOR UPDATE SKIP LOCKED" if db.dialect == "postgresql" else ""
    rows = await db.fetch(_CLAIM.format(lock=lock), now_ms, limit, now_ms + lease_ms, now_ms)
    if not rows:
        return []
    accounts = sorted({str(row[2]) for row in rows})
    marks = ", ".join("?" * len(accounts))
    hooks = {
        str(row[0]): (str(row[1]), str(row[2]))
        for row in await db.fetch(
            f"SELECT account_id, url, secret FROM webhooks WHERE account_id IN ({marks})",
            *accounts,
        )
    }
    claimed = []
    for seq, event_id, account_id, kind, body, attempts in sorted(rows, key=lambda r: r[0]):
        hook = hooks.get(account_id)
        if hook is None:
            # The webhook was removed while this notice was being written.
            await db.execute(FAIL_NOTICE, seq)
            continue
        claimed.append(Claimed(seq, event_id, account_id, kind, body, attempts, *hook))
    return claimed


async def finish(db: Executor, attempt: Attempt) -> None:
    a, c = attempt, attempt.claimed
    if a.outcome == "delivered":
        await db.execute(DELIVERED, a.attempted_ms, c.seq)
    elif a.outcome == "retry":
        await db.execute(RETRY_AT, a.next_attempt_ms, c.seq)
    else:
        await db.execute(FAIL_NOTICE, c.seq)
    if a.postpone_until is not None:
        await db.execute(POSTPONE_ACCOUNT, a.postpone_until, c.account_id, a.postpone_until)
    await db.execute(
        LOG_ATTEMPT,
        c.event_id,
        c.account_id,
        c.kind,
        c.attempt,
        a.attempted_ms,
        c.url,
        a.http_status,
        a.error,
        a.duration_ms,
        a.outcome,
    )


async def deliveries(db: Executor, query: DeliveryQuery) -> list[Delivery]:
    q = query
    where = ["account_id = ?"]
    args: list[object] = [q.account_id]
    if q.event_id is not None:
        where.append("event_id = ?")
        args.append(q.event_id)
    if q.kinds:
        where.append(f"kind IN ({', '.join('?' * len(q.kinds))})")
        args += q.kinds
    if q.outcomes:
        where.append(f"outcome IN ({', '.join('?' * len(q.outcomes))})")
        args += q.outcomes
    if q.start_ms is not None:
        where.append("attempted_ms >= ?")
        args.append(q.start_ms)
    if q.end_ms is not None:
        where.append("attempted_ms < ?")
        args.append(q.end_ms)
    if q.page.after is not None:
        at, last = q.page.after.sort_ms, int(q.page.after.key)
        sign = "<" if q.page.descending else ">"
        where += [f"attempted_ms {sign}= ?", f"(attempted_ms {sign} ? OR id {sign} ?)"]
        args += [at, at, last]
    direction = "DESC" if q.page.descending else "ASC"
    statement = (
        f"SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE {' AND '.join(where)}"
        f" ORDER BY attempted_ms {direction}, id {direction} LIMIT ?"
    )
    return [Delivery(*row) for row in await db.fetch(statement, *args, q.page.limit)]
