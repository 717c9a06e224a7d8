"""The pool's statements: listing, adding and removing numbers, on either backend."""

from __future__ import annotations

from collections.abc import Sequence

from callmask.storage import sql

LISTING = (
    "SELECT p.number, p.account_id, (SELECT count(*) FROM claims c WHERE c.mask = p.number"
    " AND c.expires_ms > ?) / 2 FROM pool_numbers p"
)
LISTING_OF = LISTING + " WHERE p.account_id = ?"
ORDER = " ORDER BY p.account_id, p.number"
# {among} is among()'s test for being one of the numbers.
FOREIGN_NUMBERS = "SELECT count(*) FROM pool_numbers WHERE number {among} AND account_id <> ?"
# How many of the numbers the account's pool holds (the rest are another's or none's).
HELD_BY_ACCOUNT = "SELECT count(*) FROM pool_numbers WHERE number {among} AND account_id = ?"
INSERT_NUMBER = "INSERT OR IGNORE INTO pool_numbers (number, account_id, added_ms) VALUES (?, ?, ?)"
INSERT_NUMBERS_PG = (
    "INSERT INTO pool_numbers (number, account_id, added_ms)"
    " SELECT unnest($1::text[]), $2, $3 ON CONFLICT DO NOTHING"
)
LIVE_ON_NUMBERS = (
    "SELECT count(DISTINCT masking_id) FROM claims WHERE mask {among} AND expires_ms > ?"
)
END_ON_NUMBERS = (
    "UPDATE maskings SET ended_ms = ?, end_reason = 'number removed'"
    " WHERE ended_ms IS NULL AND masking_id IN (SELECT masking_id FROM claims"
    f" WHERE mask {{among}} AND expires_ms > ?) RETURNING {sql.MASKING_COLUMNS}"
)
DROP_CLAIMS_ON_NUMBERS = "DELETE FROM claims WHERE mask {among}"
DROP_NUMBERS = "DELETE FROM pool_numbers WHERE number {among}"


def among(dialect: str, values: Sequence[str]) -> tuple[str, tuple[object, ...]]:
    """A column's test for being one of values, and its arguments.

    PostgreSQL takes them as one array: one prepared statement however many there are, and
    no bound on how many (asyncpg takes at most 32767 arguments). SQLite has no arrays.
    """
    if dialect == "postgresql":
        return "= ANY(?::text[])", (list(values),)
    return f"IN ({', '.join('?' * len(values))})", tuple(values)
