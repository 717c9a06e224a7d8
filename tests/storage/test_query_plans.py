"""The hot statements use indexes on SQLite: no full scans, no sorting the pool.

A pool walk that sorted would read the whole pool before LIMIT 1; a route or a rejected
call that scanned would slow down with history. The planner's own words are the check.
"""

from __future__ import annotations

import sqlite3

import pytest

from callmask.storage import sql
from callmask.storage.migrations import migrations


@pytest.fixture(scope="module")
def conn() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    for migration in migrations("sqlite"):
        db.executescript(migration.sql)
    db.execute("ANALYZE")
    return db


def plan(conn: sqlite3.Connection, statement: str, args: tuple[object, ...]) -> str:
    rows = conn.execute("EXPLAIN QUERY PLAN " + statement, args).fetchall()
    return "\n".join(row[-1] for row in rows)


@pytest.mark.parametrize(
    ("name", "statement", "args"),
    [
        ("route", sql.ROUTE, ("+91804", "+91987", 0)),
        ("first free", sql.FIRST_FREE, ("acme", "+91987", 0, "+91981", 0)),
        ("is claimed", sql.IS_CLAIMED, ("+91804", "+91987", "+91981", 0)),
        ("open pair", sql.OPEN_FOR_PAIR, ("acme", "+91981", "+91987", 0)),
        ("previous mask", sql.PREVIOUS_MASK, ("acme", "+91981", "+91987")),
        ("last masking", sql.LAST_MASKING, ("+91804", "+91987", "+91804", "+91987")),
        ("unset by party", sql.find_open(1, False), ("acme", 0, "+91987")),
        ("unset by mask", sql.find_open(0, True), ("acme", 0, "+91804")),
        ("unset by pair", sql.find_open(2, True), ("acme", 0, "+91987", "+91981", "+91804")),
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
    if name == "first free":
        # Walking the pool in index order lets LIMIT 1 stop after deg(m1) + deg(m2) numbers.
        assert "TEMP B-TREE" not in text, text
