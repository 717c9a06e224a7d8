"""Statements both backends run, written with ? placeholders (PostgreSQL numbers them)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol

from callmask.domain.accounts import User
from callmask.domain.calls import OUTCOME_RANK, CallEvent
from callmask.domain.masking import Masking
from callmask.domain.permissions import loaded, stored


class Executor(Protocol):
    """Runs ?-placeholder statements on one backend's connection (inside its transaction)."""

    dialect: str

    async def fetch(self, statement: str, *args: object) -> list[Sequence[Any]]: ...

    async def execute(self, statement: str, *args: object) -> int:
        """Run a statement; return how many rows it changed."""


MASKING_COLUMNS = (
    "masking_id, account_id, m1, m2, mask, event_id, created_ms, expires_ms, call_time_limit,"
    " record"
)
M_MASKING_COLUMNS = ", ".join("m." + column for column in MASKING_COLUMNS.split(", "))
USER_COLUMNS = "user_id, account_id, role, token_hash, permissions"

CLOSE_LAPSED_PAIR = (
    "UPDATE maskings SET ended_ms = expires_ms, end_reason = 'expired'"
    " WHERE account_id = ? AND pair_lo = ? AND pair_hi = ? AND ended_ms IS NULL"
    f" AND expires_ms <= ? RETURNING {MASKING_COLUMNS}"
)
DROP_LAPSED_CLAIMS = "DELETE FROM claims WHERE party IN (?, ?) AND expires_ms <= ?"
OPEN_FOR_PAIR = (
    f"SELECT {MASKING_COLUMNS} FROM maskings WHERE account_id = ? AND pair_lo = ?"
    " AND pair_hi = ? AND ended_ms IS NULL AND expires_ms > ?"
)
PREVIOUS_MASK = (
    "SELECT m.mask FROM maskings m JOIN pool_numbers p"
    " ON p.number = m.mask AND p.account_id = m.account_id"
    " WHERE m.account_id = ? AND m.pair_lo = ? AND m.pair_hi = ?"
    " ORDER BY m.created_ms DESC LIMIT 1"
)
IS_CLAIMED = "SELECT 1 FROM claims WHERE mask = ? AND party IN (?, ?) AND expires_ms > ? LIMIT 1"
# All a set reads before it picks a number, in one PostgreSQL round trip instead of five:
# the pair's lapsed masking closed and the parties' lapsed claims dropped (data-modifying
# WITH parts, which always run to completion), then rows of three kinds: 0 a masking just
# closed, 1 the pair's open masking, 2 the pair's previous number if neither party holds it,
# 3 a party that is a pool number.
# The main query sees the tables as before the WITH parts; every read of it compares
# expires_ms with now, so the lapsed rows they remove count for nothing there anyway.
# Parameters: $1 account, $2 and $3 the pair (low, high), $4 now.
_NO_MASKING = "NULL::text, NULL::text, NULL::text, NULL::text"
_NO_TAIL = "NULL::text, NULL::bigint, NULL::bigint, NULL::integer, NULL::boolean"
BEFORE_SET_PG = (
    "WITH closed AS (UPDATE maskings SET ended_ms = expires_ms, end_reason = 'expired'"
    " WHERE account_id = $1 AND pair_lo = $2 AND pair_hi = $3 AND ended_ms IS NULL"
    f" AND expires_ms <= $4 RETURNING {MASKING_COLUMNS}),"
    " dropped AS (DELETE FROM claims WHERE party IN ($2, $3) AND expires_ms <= $4)"
    f" SELECT 0 AS kind, {MASKING_COLUMNS} FROM closed"
    f" UNION ALL SELECT 1, {MASKING_COLUMNS} FROM maskings WHERE account_id = $1"
    " AND pair_lo = $2 AND pair_hi = $3 AND ended_ms IS NULL AND expires_ms > $4"
    f" UNION ALL SELECT 2, {_NO_MASKING}, previous.mask, {_NO_TAIL}"
    " FROM (SELECT m.mask FROM maskings m JOIN pool_numbers p"
    " ON p.number = m.mask AND p.account_id = m.account_id"
    " WHERE m.account_id = $1 AND m.pair_lo = $2 AND m.pair_hi = $3"
    " ORDER BY m.created_ms DESC LIMIT 1) AS previous"
    " WHERE NOT EXISTS (SELECT 1 FROM claims c WHERE c.mask = previous.mask"
    " AND c.party IN ($2, $3) AND c.expires_ms > $4)"
    f" UNION ALL SELECT 3, {_NO_MASKING}, number, {_NO_TAIL}"
    " FROM pool_numbers WHERE number IN ($2, $3)"
)
# A party that is itself a pool number: a call to it would come back through the proxy.
POOLED = "SELECT number FROM pool_numbers WHERE number IN (?, ?)"
# One NOT IN per party keeps this O(deg(m1) + deg(m2)): the walk over the pool in number order
# skips at most that many numbers before LIMIT 1 stops it. NOT EXISTS or IN (a, b) forms have
# been seen to turn into quadratic nested loops in PostgreSQL generic plans.
FIRST_FREE = (
    "SELECT number FROM pool_numbers WHERE account_id = ?"
    " AND number NOT IN (SELECT mask FROM claims WHERE party = ? AND expires_ms > ?)"
    " AND number NOT IN (SELECT mask FROM claims WHERE party = ? AND expires_ms > ?)"
    " ORDER BY number LIMIT 1"
)
# First fit that also passes over the numbers either party let go of since a moment (at most
# the RECENT_RELEASES latest of each, so a hub that churns through the pool costs no more
# than that); when nothing is left, the plain FIRST_FREE decides.
RECENT_RELEASES = 64
FIRST_FRESH = (
    "SELECT number FROM pool_numbers WHERE account_id = ?"
    " AND number NOT IN (SELECT mask FROM claims WHERE party = ? AND expires_ms > ?)"
    " AND number NOT IN (SELECT mask FROM claims WHERE party = ? AND expires_ms > ?)"
    " AND number NOT IN (SELECT mask FROM releases WHERE party = ? AND released_ms > ?"
    f" ORDER BY released_ms DESC LIMIT {RECENT_RELEASES})"
    " AND number NOT IN (SELECT mask FROM releases WHERE party = ? AND released_ms > ?"
    f" ORDER BY released_ms DESC LIMIT {RECENT_RELEASES})"
    " ORDER BY number LIMIT 1"
)
# In batches, oldest first, so no sweep holds the write lock for long.
FORGET_RELEASES = (
    "DELETE FROM releases WHERE (party, released_ms, mask) IN (SELECT party, released_ms, mask"
    " FROM releases WHERE released_ms <= ? ORDER BY released_ms LIMIT ?)"
)


def first_free_args(
    account_id: str, pair: tuple[str, str], now_ms: int, released_since_ms: int | None
) -> tuple[str, tuple[object, ...]]:
    """FIRST_FREE, or FIRST_FRESH when recent releases are to be passed over, and its values."""
    live = (account_id, pair[0], now_ms, pair[1], now_ms)
    if released_since_ms is None:
        return FIRST_FREE, live
    return FIRST_FRESH, (*live, pair[0], released_since_ms, pair[1], released_since_ms)


# Whether the account takes webhooks comes back with the insert: a set builds its notices
# only then, and PostgreSQL pays no extra round trip to find out.
INSERT_MASKING = (
    "INSERT INTO maskings (masking_id, account_id, m1, m2, pair_lo, pair_hi, mask,"
    " event_id, created_ms, expires_ms, call_time_limit, record)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " RETURNING EXISTS (SELECT 1 FROM webhooks w WHERE w.account_id = maskings.account_id)"
)


def masking_row(masking: Masking) -> tuple[object, ...]:
    """INSERT_MASKING's (and INSERT_MASKING_PG's) arguments."""
    m = masking
    lo, hi = sorted((m.m1, m.m2))
    return (
        m.masking_id,
        m.account_id,
        m.m1,
        m.m2,
        lo,
        hi,
        m.mask,
        m.event_id,
        m.created_ms,
        m.expires_ms,
        m.call_time_limit,
        m.record,
    )


INSERT_CLAIM = "INSERT INTO claims (mask, party, masking_id, expires_ms) VALUES (?, ?, ?, ?)"
# The masking and its two claims in one PostgreSQL round trip; the same unique keys refuse it.
INSERT_MASKING_PG = (
    "WITH m AS (INSERT INTO maskings (masking_id, account_id, m1, m2, pair_lo, pair_hi, mask,"
    " event_id, created_ms, expires_ms, call_time_limit, record)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    " RETURNING masking_id, mask, m1, m2, expires_ms),"
    " c AS (INSERT INTO claims (mask, party, masking_id, expires_ms)"
    " SELECT mask, m1, masking_id, expires_ms FROM m"
    " UNION ALL SELECT mask, m2, masking_id, expires_ms FROM m)"
    " SELECT EXISTS (SELECT 1 FROM webhooks w WHERE w.account_id = $2)"
)
END_MASKING = (
    "UPDATE maskings SET expires_ms = ?, ended_ms = ?, end_reason = ? WHERE masking_id = ?"
)
DROP_CLAIMS_OF = "DELETE FROM claims WHERE masking_id = ?"
MOVE_MASKING_END = "UPDATE maskings SET expires_ms = ? WHERE masking_id = ?"
MOVE_CLAIMS_END = "UPDATE claims SET expires_ms = ? WHERE masking_id = ?"

# The account's default call time limit and recording come with the masking, by its key: a
# call that connects costs one statement still.
ROUTE = (
    f"SELECT {M_MASKING_COLUMNS}, r.call_time_limit, r.record FROM claims c"
    " JOIN maskings m ON m.masking_id = c.masking_id"
    " LEFT JOIN account_rules r ON r.account_id = m.account_id"
    " WHERE c.mask = ? AND c.party = ? AND c.expires_ms > ?"
)


def routed(row: Sequence[Any]) -> tuple[Masking, int | None, bool | None]:
    """A ROUTE row: the masking, its account's default call time limit and recording."""
    record = row[-1]
    return Masking(*row[:-2]), row[-2], None if record is None else bool(record)


POOL_OWNER = "SELECT account_id FROM pool_numbers WHERE number = ?"
# A call that does not connect: the number's account and what it does with such callers, in
# one statement (the rules' columns are NULL for an account that set none).
OWNER_RULES = (
    "SELECT p.account_id, r.call_time_limit, r.out_of_session, r.forward_to, r.reject_code,"
    " r.record FROM pool_numbers p LEFT JOIN account_rules r ON r.account_id = p.account_id"
    " WHERE p.number = ?"
)
# Two index lookups (mask, m1) and (mask, m2): a stranger calling a busy number must not
# make callmask walk that number's whole history.
LAST_MASKING = (
    f"SELECT {MASKING_COLUMNS} FROM ("
    f" SELECT {MASKING_COLUMNS} FROM maskings WHERE mask = ? AND m1 = ?"
    " UNION ALL"
    f" SELECT {MASKING_COLUMNS} FROM maskings WHERE mask = ? AND m2 = ?"
    ") AS mine ORDER BY created_ms DESC LIMIT 1"
)
USER = f"SELECT {USER_COLUMNS} FROM users WHERE user_id = ?"
USER_BY_TOKEN = f"SELECT {USER_COLUMNS} FROM users WHERE token_hash = ?"
SET_PERMISSIONS = "UPDATE users SET permissions = ? WHERE user_id = ?"
# An ssid works only while the token it was made from does: rotation shortens or drops the
# rows too (storage/credentials.py), but a process that verified the old token just before a
# rotation may still insert one made from it, and this condition ends that one as well.
SESSION_USER = (
    "SELECT u.user_id, u.account_id, u.role, u.token_hash, u.permissions FROM sessions s"
    " JOIN users u ON u.user_id = s.user_id WHERE s.ssid_hash = ? AND s.expires_ms > ?"
    " AND (s.token_hash = u.token_hash"
    " OR (s.token_hash = u.previous_token_hash AND u.previous_until_ms > ?))"
)
INSERT_USER = (
    "INSERT INTO users (user_id, account_id, role, token_hash, permissions, created_ms)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)


def user(row: Sequence[Any]) -> User:
    """A User from a row of USER_COLUMNS."""
    return User(row[0], row[1], row[2], row[3], loaded(row[4]))


def user_row(u: User, now_ms: int) -> tuple[object, ...]:
    """INSERT_USER's arguments."""
    return (u.user_id, u.account_id, u.role, u.token_hash, stored(u.permissions), now_ms)


# In batches, so a sweep after a long stop holds no long lock; the batch is picked once, in a
# materialised CTE (PostgreSQL may re-run an IN (subquery ... LIMIT) per row). The outer
# conditions repeat the inner ones: PostgreSQL re-checks them on a row another sweeper closed
# meanwhile and skips it, so each masking is closed (and announced) once.
CLOSE_LAPSED_BATCH = (
    "WITH lapsed AS MATERIALIZED (SELECT masking_id FROM maskings"
    " WHERE ended_ms IS NULL AND expires_ms <= ? LIMIT ?)"
    " UPDATE maskings SET ended_ms = expires_ms, end_reason = 'expired'"
    " WHERE ended_ms IS NULL AND expires_ms <= ?"
    " AND masking_id IN (SELECT masking_id FROM lapsed)"
    f" RETURNING {MASKING_COLUMNS}"
)
DROP_ALL_LAPSED_CLAIMS = "DELETE FROM claims WHERE expires_ms <= ?"
DROP_LAPSED_SESSIONS = "DELETE FROM sessions WHERE expires_ms <= ?"

CALL_COLUMNS = (
    "call_id, account_id, masking_id, event_id, mask, caller, callee, started_ms, answered_ms,"
    " ended_ms, duration_s, sip_status, outcome, updated_ms, ended_by, action"
)
CALL = f"SELECT {CALL_COLUMNS} FROM calls WHERE call_id = ?"
# Written once, by whichever event knows it first; a later event never erases it.
_CALL_FACTS = (
    "account_id",
    "masking_id",
    "event_id",
    "mask",
    "caller",
    "callee",
    "started_ms",
    "answered_ms",
    "ended_ms",
    "duration_s",
    "ended_by",
    "action",
)


def _rank(table: str) -> str:
    cases = " ".join(f"WHEN '{outcome}' THEN {rank}" for outcome, rank in OUTCOME_RANK.items())
    return f"(CASE {table}.outcome {cases} END)"


_OUTRANKS = f"{_rank('excluded')} > {_rank('calls')}"
# One statement per event, so two consumers storing events of the same call concurrently are
# serialised by the primary key, on both databases. The outcome and its SIP status follow the
# highest-ranked event seen, whatever the arrival order. The WHERE skips an update that would
# change nothing, so a replayed event leaves even updated_ms alone. The masking's account and
# eventId are looked up here, so a record links to its masking without a read beforehand; a
# forwarded call has no masking, and its account is the one whose pool holds the DID called.
UPSERT_CALL = (
    f"INSERT INTO calls ({CALL_COLUMNS}) VALUES (?,"
    " COALESCE((SELECT account_id FROM maskings WHERE masking_id = ?),"
    " (SELECT account_id FROM pool_numbers WHERE number = ?)), ?,"
    " (SELECT event_id FROM maskings WHERE masking_id = ?), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (call_id) DO UPDATE SET "
    + ", ".join(f"{column} = COALESCE(calls.{column}, excluded.{column})" for column in _CALL_FACTS)
    + f", sip_status = CASE WHEN {_OUTRANKS}"
    " THEN COALESCE(excluded.sip_status, calls.sip_status)"
    " ELSE COALESCE(calls.sip_status, excluded.sip_status) END"
    f", outcome = CASE WHEN {_OUTRANKS} THEN excluded.outcome ELSE calls.outcome END"
    ", updated_ms = excluded.updated_ms"
    f" WHERE {_OUTRANKS} OR "
    + " OR ".join(
        f"(calls.{column} IS NULL AND excluded.{column} IS NOT NULL)"
        for column in (*_CALL_FACTS, "sip_status")
    )
)

# The merged record after the event, and whether its account takes webhooks; nothing when the
# event changed nothing (a replay), so a replay announces nothing either.
UPSERT_CALL_RETURNING = (
    UPSERT_CALL + f" RETURNING {CALL_COLUMNS},"
    " EXISTS (SELECT 1 FROM webhooks w WHERE w.account_id = calls.account_id)"
)


def call_row(event: CallEvent, now_ms: int) -> tuple[object, ...]:
    """UPSERT_CALL's arguments for one event."""
    e = event
    return (
        e.call_id,
        e.masking_id,
        e.mask if e.action == "forward" else None,
        e.masking_id,
        e.masking_id,
        e.mask,
        e.caller,
        e.callee,
        e.started_ms,
        e.answered_ms,
        e.ended_ms,
        e.duration_s,
        e.sip_status,
        e.outcome,
        now_ms,
        e.ended_by,
        e.action,
    )


_PLACEHOLDER = re.compile(r"\?")


def numbered(statement: str) -> str:
    """The same statement with PostgreSQL's $1, $2, ... placeholders."""
    counter = iter(range(1, 1000))
    return _PLACEHOLDER.sub(lambda _: f"${next(counter)}", statement)


def find_open(parties: int, with_mask: bool, dialect: str = "sqlite") -> str:
    """Live maskings of an account having every given party and, optionally, one mask.

    Parameters: account, now, the parties (two: low then high, see find_open_args), the mask.
    """
    where = ["m.account_id = ?", "m.ended_ms IS NULL", "m.expires_ms > ?"]
    # Live maskings are found through their claims (keyed by party and by mask), or for two
    # parties through the open pair's own key, never by walking a number's history: a hub
    # holding thousands would make "m1 = hub and m2 = customer" cost thousands of rows.
    # SQLite, which has no statistics, would otherwise walk the account's whole history in
    # created order (maskings_account_created) to skip a sort of a handful of rows: the index
    # is named for it.
    index = "sqlite_autoindex_maskings_1"
    if parties == 2:
        where += ["m.pair_lo = ?", "m.pair_hi = ?"]
        index = "maskings_open_pair"
    elif parties:
        where.append("m.masking_id IN (SELECT masking_id FROM claims WHERE party = ?)")
    if with_mask:
        where.append(
            "m.mask = ?"
            if parties
            else "m.masking_id IN (SELECT masking_id FROM claims WHERE mask = ?)"
        )
    table = f"maskings m INDEXED BY {index}" if dialect == "sqlite" else "maskings m"
    return f"SELECT {M_MASKING_COLUMNS} FROM {table} WHERE {' AND '.join(where)}" + (
        " ORDER BY m.created_ms"
    )


def find_open_args(
    account_id: str, parties: tuple[str, ...], mask: str | None, now_ms: int, dialect: str
) -> tuple[str, tuple[object, ...]]:
    """find_open's statement for these selectors, and its values."""
    ordered = tuple(sorted(parties)) if len(parties) == 2 else parties
    args = (account_id, now_ms, *ordered, *([mask] if mask is not None else []))
    return find_open(len(parties), mask is not None, dialect), args
