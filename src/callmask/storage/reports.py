"""The call report and the masking queries: one keyset-paged statement each, on either backend.

Pages follow (time, id) in both directions, so a page starts where the previous one stopped:
as fast at page 1000 as at page 1, and stable while rows arrive.

SQLite plans without statistics (callmask never runs ANALYZE): between an index that yields
the order and one that finds the few matching rows it picks by tie-break, and a wrong pick
walks the account's whole history. So on SQLite the statement names the index its most
selective filter has (INDEXED BY); PostgreSQL keeps statistics and plans each call for its
parameters (see PostgresStore._report_reads).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from callmask.domain.calls import CallRecord
from callmask.domain.masking import Masking, MaskingRecord
from callmask.domain.paging import Page
from callmask.domain.reports import CallQuery, MaskingQuery
from callmask.storage.sql import CALL_COLUMNS, MASKING_COLUMNS, Executor


@dataclass
class _Select:
    columns: str
    table: str
    time: str
    key: str
    page: Page
    where: list[str] = field(default_factory=list)
    args: list[object] = field(default_factory=list)

    def add(self, condition: str, *values: object) -> None:
        self.where.append(condition)
        self.args += values

    def statement(self) -> tuple[str, list[object]]:
        where, args = list(self.where), list(self.args)
        t, key, page = self.time, self.key, self.page
        if page.after is not None:
            at, last = page.after.sort_ms, page.after.key
            # The plain bound is what an index range uses; the OR trims the ties.
            sign = "<" if page.descending else ">"
            where += [f"{t} {sign}= ?", f"({t} {sign} ? OR {key} {sign} ?)"]
            args += [at, at, last]
        return (
            f"SELECT {self.columns} FROM {self.table} WHERE {' AND '.join(where)}"
            f" ORDER BY {_order(t, key, page)} LIMIT ?",
            [*args, page.limit],
        )


def _order(time: str, key: str, page: Page) -> str:
    direction = "DESC" if page.descending else "ASC"
    return f"{time} {direction}, {key} {direction}"


def _table(name: str, dialect: str, index: str | None) -> str:
    return f"{name} INDEXED BY {index}" if dialect == "sqlite" and index else name


def _either(branches: list[_Select], time: str, key: str, page: Page) -> tuple[str, list[object]]:
    """Matches of either branch: each one page of an index walk, merged and cut to one page.

    An OR of the two conditions would be one walk over the whole window instead.
    """
    parts, args = [], []
    for n, branch in enumerate(branches):
        statement, values = branch.statement()
        parts.append(f"SELECT * FROM ({statement}) AS branch{n}")
        args += values
    merged = " UNION ALL ".join(parts)
    statement = f"SELECT * FROM ({merged}) AS found ORDER BY {_order(time, key, page)} LIMIT ?"
    return statement, [*args, page.limit]


def call_statement(query: CallQuery, dialect: str = "sqlite") -> tuple[str, list[object]]:
    q = query

    def select(party_column: str | None) -> _Select:
        # A party or a number may have very many calls: its index yields the report's order.
        # A masking's calls (or an eventId's maskings' calls) are few: found, then sorted.
        if party_column is not None:
            index: str | None = f"calls_account_{party_column}"
        elif q.mask is not None:
            index = "calls_account_mask"
        elif q.masking_id is not None or q.event_id is not None:
            index = "calls_account_masking"
        else:
            index = None
        s = _Select(CALL_COLUMNS, _table("calls", dialect, index), "started_ms", "call_id", q.page)
        s.add("account_id = ?", q.account_id)
        if party_column is not None:
            s.add(f"{party_column} = ?", q.party)
        if q.mask is not None:
            s.add("mask = ?", q.mask)
        if q.masking_id is not None:
            s.add("masking_id = ?", q.masking_id)
        if q.event_id is not None:
            s.add("event_id = ?", q.event_id)
            s.add(
                "masking_id IN (SELECT masking_id FROM maskings"
                " WHERE account_id = ? AND event_id = ?)",
                q.account_id,
                q.event_id,
            )
        s.add("started_ms >= ?", q.start_ms)
        s.add("started_ms < ?", q.end_ms)
        if q.statuses:
            s.add(f"outcome IN ({', '.join('?' * len(q.statuses))})", *q.statuses)
        if q.actions:
            # Calls recorded before the proxy said how it handled them were all connected.
            s.add(f"COALESCE(action, 'connect') IN ({', '.join('?' * len(q.actions))})", *q.actions)
        if q.min_duration_s is not None:
            s.add("duration_s >= ?", q.min_duration_s)
        if q.max_duration_s is not None:
            s.add("duration_s <= ?", q.max_duration_s)
        return s

    if q.party is None:
        return select(None).statement()
    return _either([select("caller"), select("callee")], "started_ms", "call_id", q.page)


def masking_statement(query: MaskingQuery, dialect: str = "sqlite") -> tuple[str, list[object]]:
    q = query

    def select(party_column: str | None) -> _Select:
        # Each set pays for every index on maskings, so the queries reuse those it already
        # has: the pair's history (by the lower party), the number's history (mask, m1).
        if q.masking_id is not None:
            index: str | None = None  # the primary key
        elif q.event_id is not None:
            index = "maskings_account_event"
        elif party_column is not None:
            index = {"pair_lo": "maskings_pair_history", "pair_hi": "maskings_account_hi"}[
                party_column
            ]
        elif q.mask is not None:
            index = "maskings_mask_m1"
        else:
            index = None
        s = _Select(
            f"{MASKING_COLUMNS}, ended_ms, end_reason",
            _table("maskings", dialect, index),
            "created_ms",
            "masking_id",
            q.page,
        )
        s.add("account_id = ?", q.account_id)
        if party_column is not None:
            s.add(f"{party_column} = ?", q.party)
        for column, value in (
            ("mask", q.mask),
            ("event_id", q.event_id),
            ("masking_id", q.masking_id),
        ):
            if value is not None:
                s.add(f"{column} = ?", value)
        if q.status == "active":
            s.add("ended_ms IS NULL AND expires_ms > ?", q.now_ms)
        elif q.status == "ended":
            s.add("(ended_ms IS NOT NULL OR expires_ms <= ?)", q.now_ms)
        for condition, bound in (
            ("created_ms >= ?", q.created_from_ms),
            ("created_ms < ?", q.created_to_ms),
            ("expires_ms >= ?", q.expiry_from_ms),
            ("expires_ms < ?", q.expiry_to_ms),
        ):
            if bound is not None:
                s.add(condition, bound)
        return s

    if q.party is None:
        return select(None).statement()
    return _either([select("pair_lo"), select("pair_hi")], "created_ms", "masking_id", q.page)


async def calls_page(db: Executor, query: CallQuery) -> list[CallRecord]:
    statement, args = call_statement(query, db.dialect)
    return [CallRecord(*row) for row in await db.fetch(statement, *args)]


async def maskings_page(db: Executor, query: MaskingQuery) -> list[MaskingRecord]:
    statement, args = masking_statement(query, db.dialect)
    rows = await db.fetch(statement, *args)
    return [MaskingRecord(Masking(*row[:10]), row[10], row[11]) for row in rows]
