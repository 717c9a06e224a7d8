"""Call report (masklist) query times over a million call records, on SQLite and PostgreSQL.

`python -m bench.masklist [--rows 1000000] [--backend sqlite|postgresql|both]`: a fresh
database per backend (a SQLite file in a temporary folder; a PostgreSQL schema of its own,
dropped afterwards), migrated by callmask, filled with generated maskings and call records
(executemany in one transaction on SQLite, COPY on PostgreSQL), then each representative
report query run through the real store (store.calls_page, as the endpoint runs it) and its
median and 95th-percentile time printed. Prints a Markdown table; writes nothing.

The shape: 60 days of calls, 90% of them in one busy account (1,000 pool numbers, 200,000
parties, ~5 calls per masking), the rest in a second account. A 31-day window of the busy
account holds ~470,000 calls, its last 24 hours ~15,000.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import random
import secrets
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg

from callmask.domain.paging import Cursor, Page
from callmask.domain.reports import CallQuery, MaskingQuery
from callmask.storage.base import Store
from callmask.storage.postgres import PostgresStore
from callmask.storage.sqlite import SqliteStore

PG_URL = os.environ.get("CALLMASK_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
DAY_MS = 86_400_000
END_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z: "now" for the queries
START_MS = END_MS - 60 * DAY_MS
BUSY, QUIET = "busy", "quiet"
DIDS = 1000
PARTIES = 200_000
CALLS_PER_MASKING = 5
OUTCOMES = ("completed", "completed", "completed", "failed", "answered", "ringing")
MASKING_COLUMNS = (
    "masking_id, account_id, m1, m2, pair_lo, pair_hi, mask, event_id, created_ms, expires_ms,"
    " ended_ms, end_reason"
)
# The columns the generated calls fill (the newer ones stay NULL).
CALL_COLUMNS = (
    "call_id, account_id, masking_id, event_id, mask, caller, callee, started_ms, answered_ms,"
    " ended_ms, duration_s, sip_status, outcome, updated_ms"
)


def _party(n: int) -> str:
    return f"+9198{n:08d}"


def _did(account: str, n: int) -> str:
    return f"+9180{4 if account == BUSY else 5}{n:07d}"


def generate(
    rows: int, seed: int = 7
) -> Iterator[tuple[list[tuple[object, ...]], list[tuple[object, ...]]]]:
    """(maskings, calls) in chunks; every call belongs to a generated masking."""
    rng = random.Random(seed)
    made = 0
    n = 0
    while made < rows:
        maskings: list[tuple[object, ...]] = []
        calls: list[tuple[object, ...]] = []
        for _ in range(10_000):
            if made >= rows:
                break
            account = BUSY if rng.random() < 0.9 else QUIET
            a, b = rng.sample(range(PARTIES), 2)
            m1, m2 = _party(a), _party(b)
            mask = _did(account, rng.randrange(DIDS))
            created = START_MS + rng.randrange(60 * DAY_MS)
            masking_id = f"mk{n:09d}"
            n += 1
            expires = created + 2 * 3_600_000
            maskings.append(
                (
                    masking_id,
                    account,
                    m1,
                    m2,
                    min(m1, m2),
                    max(m1, m2),
                    mask,
                    f"order-{n}",
                    created,
                    expires,
                    expires,
                    "expired",
                )
            )
            for k in range(min(CALLS_PER_MASKING, rows - made)):
                started = created + rng.randrange(2 * 3_600_000)
                outcome = rng.choice(OUTCOMES)
                answered = started + 5000 if outcome in ("completed", "answered") else None
                duration = rng.randrange(1, 600) if outcome == "completed" else None
                duration = 0 if outcome == "failed" else duration
                ended = (
                    started + 5000 + 1000 * (duration or 0)
                    if outcome in ("completed", "failed")
                    else None
                )
                status = {"completed": 200, "answered": 200, "failed": 486, "ringing": None}[
                    outcome
                ]
                caller, callee = (m1, m2) if k % 2 == 0 else (m2, m1)
                calls.append(
                    (
                        f"{masking_id}c{k}",
                        account,
                        masking_id,
                        f"order-{n}",
                        mask,
                        caller,
                        callee,
                        started,
                        answered,
                        ended,
                        duration,
                        status,
                        outcome,
                        started,
                    )
                )
                made += 1
        yield maskings, calls


async def fill_sqlite(path: str, rows: int) -> float:
    store = SqliteStore(path)
    await store.migrate()
    await store.close()
    began = time.perf_counter()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous = OFF")
    with conn:
        for maskings, calls in generate(rows):
            conn.executemany(
                f"INSERT INTO maskings ({MASKING_COLUMNS}) VALUES ({', '.join('?' * 12)})", maskings
            )
            conn.executemany(
                f"INSERT INTO calls ({CALL_COLUMNS}) VALUES ({', '.join('?' * 14)})", calls
            )
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return time.perf_counter() - began


async def fill_postgres(url: str, rows: int) -> float:
    store = PostgresStore(url)
    await store.migrate()
    await store.close()
    began = time.perf_counter()
    conn = await asyncpg.connect(url)
    try:
        for maskings, calls in generate(rows):
            await conn.copy_records_to_table(
                "maskings", records=maskings, columns=MASKING_COLUMNS.split(", ")
            )
            await conn.copy_records_to_table(
                "calls", records=calls, columns=CALL_COLUMNS.replace(" ", "").split(",")
            )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return time.perf_counter() - began


async def _timed(run: Callable[[], Awaitable[object]], repeat: int) -> tuple[float, float, int]:
    await run()  # warm: the first run reads pages from disk into the cache
    times = []
    result: object = None
    for _ in range(repeat):
        began = time.perf_counter()
        result = await run()
        times.append((time.perf_counter() - began) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    size = len(result) if isinstance(result, list) else 0
    return statistics.median(times), p95, size


async def queries(store: Store, repeat: int) -> list[tuple[str, float, float, int]]:
    day = CallQuery(BUSY, END_MS - DAY_MS, END_MS, Page(100))
    month = CallQuery(BUSY, END_MS - 31 * DAY_MS, END_MS, Page(100))
    # A party, a DID, a masking and an eventId that the busy account has in the window.
    sample = await store.calls_page(dataclasses.replace(month, page=Page(500)))
    pick = sample[250]
    deep = await store.calls_page(dataclasses.replace(month, page=Page(1)))
    cursor_at = month
    for _ in range(20):  # 20 pages of 500 in: a cursor 10,000 calls deep
        page = await store.calls_page(
            dataclasses.replace(cursor_at, page=Page(500, cursor_at.page.after))
        )
        last = page[-1]
        assert last.started_ms is not None
        cursor_at = dataclasses.replace(
            month, page=Page(100, Cursor(last.started_ms, last.call_id))
        )
    assert deep
    cases: list[tuple[str, CallQuery]] = [
        ("last 24 h, first 100", day),
        ("31 days, first 100", month),
        ("31 days, 100 after a cursor 10,000 deep", cursor_at),
        (
            "31 days, oldest first (asc)",
            dataclasses.replace(month, page=Page(100, descending=False)),
        ),
        ("31 days, limit 500", dataclasses.replace(month, page=Page(500))),
        ("31 days, party", dataclasses.replace(month, party=pick.caller)),
        ("31 days, mask (one DID of 1,000)", dataclasses.replace(month, mask=pick.mask)),
        ("31 days, maskingId", dataclasses.replace(month, masking_id=pick.masking_id)),
        ("31 days, eventId", dataclasses.replace(month, event_id=pick.event_id)),
        ("31 days, status failed", dataclasses.replace(month, statuses=("failed",))),
        (
            "31 days, minDuration 120 + completed",
            dataclasses.replace(month, statuses=("completed",), min_duration_s=120),
        ),
        (
            "31 days, minDuration 599 (rare, no index)",
            dataclasses.replace(month, min_duration_s=599),
        ),
        (
            "31 days, party + status failed",
            dataclasses.replace(month, party=pick.caller, statuses=("failed",)),
        ),
    ]
    results = []
    for name, query in cases:
        median, p95, size = await _timed(lambda q=query: store.calls_page(q), repeat)
        results.append((name, median, p95, size))

    async def walk_day() -> list[object]:
        page, seen = Page(500), []
        while True:
            found = await store.calls_page(dataclasses.replace(day, page=page))
            seen += found
            if len(found) < 500:
                return seen
            last = found[-1]
            assert last.started_ms is not None
            page = Page(500, Cursor(last.started_ms, last.call_id))

    median, p95, size = await _timed(walk_day, max(3, repeat // 5))
    results.append(("last 24 h, every page of 500 (export)", median, p95, size))
    mq = MaskingQuery(BUSY, END_MS, Page(100))
    for name, masking_query in (
        ("Masking/list, first 100", mq),
        ("Masking/list, party", dataclasses.replace(mq, party=pick.caller)),
        ("Masking/get, eventId", dataclasses.replace(mq, event_id=pick.event_id)),
    ):
        median, p95, size = await _timed(lambda q=masking_query: store.maskings_page(q), repeat)
        results.append((name, median, p95, size))
    return results


async def run_sqlite(rows: int, repeat: int) -> tuple[float, list[tuple[str, float, float, int]]]:
    with tempfile.TemporaryDirectory(prefix="callmask-masklist-") as folder:
        path = str(Path(folder) / "bench.db")
        took = await fill_sqlite(path, rows)
        store = SqliteStore(path)
        try:
            return took, await queries(store, repeat)
        finally:
            await store.close()


async def _admin(statement: str) -> None:
    # A connection per statement: PostgreSQL may have restarted in between (fault tests).
    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def run_postgres(rows: int, repeat: int) -> tuple[float, list[tuple[str, float, float, int]]]:
    schema = "bench_masklist_" + secrets.token_hex(4)
    await _admin(f"CREATE SCHEMA {schema}")
    try:
        url = f"{PG_URL}?search_path={schema}"
        took = await fill_postgres(url, rows)
        store = PostgresStore(url, pool_size=2, timeout_s=60)
        try:
            return took, await queries(store, repeat)
        finally:
            await store.close()
    finally:
        await _admin(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def _table(
    backend: str, rows: int, took: float, results: list[tuple[str, float, float, int]]
) -> str:
    lines = [
        f"### {backend}: {rows:,} call records (generated and indexed in {took:.0f} s)",
        "",
        "| query | median ms | p95 ms | rows |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {name} | {median:.2f} | {p95:.2f} | {size} |" for name, median, p95, size in results
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    for backend in ("sqlite", "postgresql"):
        if args.backend not in (backend, "both"):
            continue
        runner = run_sqlite if backend == "sqlite" else run_postgres
        took, results = asyncio.run(runner(args.rows, args.repeat))
        print(_table(backend, args.rows, took, results), "\n", flush=True)


if __name__ == "__main__":
    main()
