"""The hot statements use indexes on SQLite: no full scans, no sorting the pool.

A pool walk that sorted would read the whole pool before LIMIT 1; a route or a rejected
call that scanned would slow down with history. The planner's own words are the check, on
the store's connection to a database its migrate made: no statistics, as in production.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from dataclasses import replace

import pytest

from callmask.domain.paging import Cursor, Page
from callmask.domain.reports import CallQuery, MaskingQuery
from callmask.storage import sql
from callmask.storage.reports import call_statement, masking_statement
from callmask.storage.sqlite import SqliteStore


@pytest.fixture(scope="module")
def conn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    """The store's own connection, on a database its migrate made: no statistics, as served."""
    store = SqliteStore(str(tmp_path_factory.mktemp("plans") / "plans.db"))
    try:
        asyncio.run(store.migrate())
        stats = "SELECT count(*) FROM sqlite_master WHERE name LIKE 'sqlite_stat%'"
        assert store._conn.execute(stats).fetchone() == (0,)
        yield store._conn
    finally:
        asyncio.run(store.close())


def plan(conn: sqlite3.Connection, statement: str, args: tuple[object, ...]) -> str:
    rows = conn.execute("EXPLAIN QUERY PLAN " + statement, args).fetchall()
    return "\n".join(row[-1] for row in rows)


@pytest.mark.parametrize(
    ("name", "statement", "args"),
    [
        ("route", sql.ROUTE, ("+91804", "+91987", 0)),
        ("first free", sql.FIRST_FREE, ("acme", "+91987", 0, "+91981", 0)),
        ("first fresh", *sql.first_free_args("acme", ("+91981", "+91987"), 0, -1)),
        ("close lapsed pair", sql.CLOSE_LAPSED_PAIR, ("acme", "+91981", "+91987", 0)),
        ("drop lapsed claims", sql.DROP_LAPSED_CLAIMS, ("+91981", "+91987", 0)),
        ("is claimed", sql.IS_CLAIMED, ("+91804", "+91987", "+91981", 0)),
        ("open pair", sql.OPEN_FOR_PAIR, ("acme", "+91981", "+91987", 0)),
        ("previous mask", sql.PREVIOUS_MASK, ("acme", "+91981", "+91987")),
        ("pooled parties", sql.POOLED, ("+91981", "+91987")),
        ("last masking", sql.LAST_MASKING, ("+91804", "+91987", "+91804", "+91987")),
        ("unset by party", sql.find_open(1, False), ("acme", 0, "+91987")),
        ("unset by mask", sql.find_open(0, True), ("acme", 0, "+91804")),
        ("unset by pair", sql.find_open(2, True), ("acme", 0, "+91987", "+91981", "+91804")),
        ("unset by party and mask", sql.find_open(1, True), ("acme", 0, "+91987", "+91804")),
    ],
)
def test_hot_statement_uses_indexes(
    conn: sqlite3.Connection, name: str, statement: str, args: tuple[object, ...]
) -> None:
    text = plan(conn, statement, args)
    assert "SCAN maskings" not in text and "SCAN claims" not in text, text
    assert "SCAN pool_numbers" not in text, text
    if name == "last masking":
        assert "maskings_mask_m1 (mask=? AND m1=?)" in text, text
        assert "maskings_mask_m2 (mask=? AND m2=?)" in text, text
    if name == "unset by mask":
        assert "SEARCH claims USING PRIMARY KEY (mask=?)" in text, text
    if name in ("close lapsed pair", "open pair"):
        assert "maskings_open_pair (account_id=? AND pair_lo=? AND pair_hi=?)" in text, text
    if name == "unset by pair":
        # The pair's own key: one row, however many maskings either party holds.
        assert "maskings_open_pair (account_id=? AND pair_lo=? AND pair_hi=?)" in text, text
    elif name.startswith("unset"):
        # Found through the claims, never by walking the account's history in created order
        # (maskings_account_created): that made each unset O(the account's maskings).
        assert "sqlite_autoindex_maskings_1 (masking_id=?)" in text, text
    if name in ("first free", "first fresh"):
        # Walking the pool in index order lets LIMIT 1 stop after deg(m1) + deg(m2) numbers
        # (and, for fresh, the parties' latest releases, each read newest first by its key).
        assert "TEMP B-TREE" not in text, text
    if name in ("first free", "first fresh"):
        # Each party's live claims are a range of one index, read alone: a hub's thousands
        # of claims cost no table reads.
        assert text.count("COVERING INDEX claims_party (party=? AND expires_ms>?)") == 2, text
    if name == "drop lapsed claims":
        assert "COVERING INDEX claims_party (party=? AND expires_ms<?)" in text, text
    if name == "first fresh":
        assert text.count("SEARCH releases USING PRIMARY KEY (party=? AND released_ms>?)") == 2


_WINDOW = CallQuery("acme", 0, 10, Page(100, Cursor(5, "c")))
_MASKINGS = MaskingQuery("acme", 0, Page(100, Cursor(5, "m")), created_from_ms=1)


@pytest.mark.parametrize(
    ("query", "index", "sorted_"),
    [
        # Report order straight from an index: no sort, however many calls match.
        (_WINDOW, "calls_account_started (account_id=? AND started_ms>?", False),
        (replace(_WINDOW, page=Page(9, descending=False)), "calls_account_started", False),
        (replace(_WINDOW, statuses=("failed",), min_duration_s=5), "calls_account_started", False),
        (replace(_WINDOW, mask="+91804"), "calls_account_mask (account_id=? AND mask=?", False),
        (replace(_WINDOW, party="+91987"), "calls_account_caller (account_id=? AND caller=?", True),
        (replace(_WINDOW, party="+91987"), "calls_account_callee (account_id=? AND callee=?", True),
        (_MASKINGS, "maskings_account_created (account_id=? AND created_ms>?", False),
        (replace(_MASKINGS, event_id="o-1"), "maskings_account_event (account_id=? AND ", False),
        # Few matches: found by their own index, then sorted.
        (replace(_WINDOW, masking_id="mk"), "calls_account_masking (account_id=? AND ", True),
        (replace(_WINDOW, event_id="o-1"), "calls_account_masking (account_id=? AND ", True),
        (replace(_MASKINGS, party="+91987"), "maskings_pair_history (account_id=? AND ", True),
        (replace(_MASKINGS, party="+91987"), "maskings_account_hi (account_id=? AND ", True),
        (replace(_MASKINGS, mask="+91804"), "maskings_mask_m1 (mask=?)", True),
        (replace(_MASKINGS, masking_id="mk"), "sqlite_autoindex_maskings_1 (masking_id=?)", False),
    ],
)
def test_report_pages_use_their_filters_index(
    conn: sqlite3.Connection, query: CallQuery | MaskingQuery, index: str, sorted_: bool
) -> None:
    # Without statistics (callmask never runs ANALYZE) a wrong pick would walk the account.
    statement, args = (
        call_statement(query) if isinstance(query, CallQuery) else masking_statement(query)
    )
    text = plan(conn, statement, args)
    assert f"USING INDEX {index}" in text or f"USING COVERING INDEX {index}" in text, text
    assert "SCAN calls" not in text and "SCAN maskings" not in text, text
    assert ("TEMP B-TREE" in text) == sorted_, text
