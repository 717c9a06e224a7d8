"""Generated maskings and call records for report tests, with a plain-Python reference filter."""

from __future__ import annotations

import random
from dataclasses import dataclass

from callmask.domain.calls import CallRecord
from callmask.domain.masking import Masking, MaskingRecord
from callmask.domain.numbers import E164
from callmask.domain.reports import CallQuery, MaskingQuery
from callmask.storage.sql import CALL_COLUMNS
from tests.backends import Database

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
DAY_MS = 86_400_000
PARTIES = [E164(f"+9198{n:08d}") for n in range(60)]
DIDS = [E164(f"+91804000{n:04d}") for n in range(10)]
OTHER_DIDS = [E164(f"+91805000{n:04d}") for n in range(3)]
OUTCOMES = ("ringing", "answered", "completed", "failed")
FORWARDED_CALLS = 120

INSERT_MASKING = (
    "INSERT INTO maskings (masking_id, account_id, m1, m2, pair_lo, pair_hi, mask, event_id,"
    " created_ms, expires_ms, ended_ms, end_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
INSERT_CALL = (
    f"INSERT INTO calls ({CALL_COLUMNS}) VALUES ({', '.join('?' * len(CALL_COLUMNS.split(',')))})"
)


@dataclass
class Dataset:
    maskings: list[MaskingRecord]
    calls: list[CallRecord]
    now_ms: int


def _maskings(
    rng: random.Random, account: str, count: int, dids: list[E164]
) -> list[MaskingRecord]:
    pairs = rng.sample([(a, b) for i, a in enumerate(PARTIES) for b in PARTIES[i + 1 :]], count)
    made = []
    for n, (a, b) in enumerate(pairs):
        created = T0 + rng.randrange(0, 9 * DAY_MS) // 60_000 * 60_000  # ties on purpose
        expires = created + rng.choice((1, 30, 600, 3 * 1440)) * 60_000
        ended = rng.random() < 0.3
        # Some eventIds repeat across maskings, as a client re-using order ids would.
        event = None if n % 7 == 0 else f"order-{n % 40}"
        masking = Masking(
            f"{account}mk{n:04d}", account, a, b, rng.choice(dids), event, created, expires
        )
        record = MaskingRecord(
            masking, expires - 1000 if ended else None, "unset" if ended else None
        )
        made.append(record)
    return made


def _calls(rng: random.Random, maskings: list[MaskingRecord], count: int) -> list[CallRecord]:
    calls = []
    for n in range(count):
        m = rng.choice(maskings).masking
        caller, callee = (m.m1, m.m2) if rng.random() < 0.5 else (m.m2, m.m1)
        started = T0 + rng.randrange(0, 10 * DAY_MS) // 1000 * 1000  # ties on purpose
        outcome = rng.choice(OUTCOMES)
        answered = started + 4000 if outcome in ("answered", "completed") else None
        duration = rng.randrange(0, 600) if outcome == "completed" else None
        duration = 0 if outcome == "failed" else duration
        ended = (
            started + 4000 + 1000 * (duration or 0) if outcome in ("completed", "failed") else None
        )
        status = {"ringing": None, "answered": 200, "completed": 200, "failed": 486}[outcome]
        # Letters and digits only: every collation orders them as Python does.
        call_id = f"{m.account_id}{rng.getrandbits(40):010x}n{n:05d}"
        calls.append(
            CallRecord(
                call_id,
                m.account_id,
                m.masking_id,
                m.event_id,
                m.mask,
                caller,
                callee,
                started,
                answered,
                ended,
                duration,
                status,
                outcome,
                started,
                # Calls recorded before the proxy said how it handled them have no action.
                action="connect" if n % 2 else None,
            )
        )
    return calls


FALLBACK = E164("+918012345678")


def _forwarded(rng: random.Random, count: int) -> list[CallRecord]:
    """Out-of-session calls acme forwarded to its fallback: no masking, the DID called, and
    now and then a withheld caller."""
    calls = []
    for n in range(count):
        started = T0 + rng.randrange(0, 10 * DAY_MS) // 1000 * 1000
        outcome = rng.choice(OUTCOMES)
        answered = started + 4000 if outcome in ("answered", "completed") else None
        duration = rng.randrange(0, 600) if outcome == "completed" else None
        duration = 0 if outcome == "failed" else duration
        ended = (
            started + 4000 + 1000 * (duration or 0) if outcome in ("completed", "failed") else None
        )
        status = {"ringing": None, "answered": 200, "completed": 200, "failed": 486}[outcome]
        caller = None if n % 5 == 0 else rng.choice(PARTIES)
        calls.append(
            CallRecord(
                f"acmefwd{rng.getrandbits(40):010x}n{n:05d}",
                "acme",
                None,
                None,
                rng.choice(DIDS),
                caller,
                FALLBACK,
                started,
                answered,
                ended,
                duration,
                status,
                outcome,
                started,
                action="forward",
            )
        )
    return calls


async def generate(database: Database, seed: int = 5, calls: int = 3000) -> Dataset:
    rng = random.Random(seed)
    maskings = _maskings(rng, "acme", 200, DIDS) + _maskings(rng, "other", 30, OTHER_DIDS)
    acme = [m for m in maskings if m.masking.account_id == "acme"]
    other = [m for m in maskings if m.masking.account_id == "other"]
    records = _calls(rng, acme, calls) + _calls(rng, other, calls // 10)
    # Calls the report never shows: no start yet, or a masking callmask does not know.
    orphan = CallRecord(
        "orphan",
        None,
        "gone",
        None,
        DIDS[0],
        PARTIES[0],
        PARTIES[1],
        T0 + 5,
        None,
        None,
        None,
        None,
        "ringing",
        T0,
    )
    unstarted = CallRecord(
        "nostart",
        "acme",
        acme[0].masking.masking_id,
        None,
        None,
        None,
        None,
        None,
        None,
        T0 + 9,
        3,
        200,
        "completed",
        T0,
    )
    # From a generator of their own, so the masked calls are the same with or without them.
    records += _forwarded(random.Random(seed + 1), FORWARDED_CALLS)
    records += [orphan, unstarted]
    await database.insert(
        INSERT_MASKING,
        [
            (
                r.masking.masking_id,
                r.masking.account_id,
                r.masking.m1,
                r.masking.m2,
                min(r.masking.m1, r.masking.m2),
                max(r.masking.m1, r.masking.m2),
                r.masking.mask,
                r.masking.event_id,
                r.masking.created_ms,
                r.masking.expires_ms,
                r.ended_ms,
                r.end_reason,
            )
            for r in maskings
        ],
    )
    await database.insert(INSERT_CALL, [tuple(vars_of(c)) for c in records])
    return Dataset(maskings, records, T0 + 5 * DAY_MS)


def vars_of(call: CallRecord) -> list[object]:
    return [getattr(call, name) for name in CALL_COLUMNS.replace(" ", "").split(",")]


def expected_calls(data: Dataset, q: CallQuery) -> list[CallRecord]:
    """The reference: every filter in plain Python, in the report's order."""

    def keep(c: CallRecord) -> bool:
        return (
            c.account_id == q.account_id
            and c.started_ms is not None
            and q.start_ms <= c.started_ms < q.end_ms
            and (q.mask is None or c.mask == q.mask)
            and (q.party is None or q.party in (c.caller, c.callee))
            and (q.event_id is None or c.event_id == q.event_id)
            and (q.masking_id is None or c.masking_id == q.masking_id)
            and (not q.statuses or c.outcome in q.statuses)
            and (not q.actions or (c.action or "connect") in q.actions)
            and (
                q.min_duration_s is None
                or (c.duration_s is not None and c.duration_s >= q.min_duration_s)
            )
            and (
                q.max_duration_s is None
                or (c.duration_s is not None and c.duration_s <= q.max_duration_s)
            )
        )

    found = [c for c in data.calls if keep(c)]
    return sorted(found, key=lambda c: (c.started_ms or 0, c.call_id), reverse=q.page.descending)


def expected_maskings(data: Dataset, q: MaskingQuery) -> list[MaskingRecord]:
    def keep(r: MaskingRecord) -> bool:
        m = r.masking
        live = r.ended(q.now_ms) is None
        return (
            m.account_id == q.account_id
            and (q.status == "all" or live == (q.status == "active"))
            and (q.party is None or q.party in (m.m1, m.m2))
            and (q.mask is None or m.mask == q.mask)
            and (q.event_id is None or m.event_id == q.event_id)
            and (q.masking_id is None or m.masking_id == q.masking_id)
            and (q.created_from_ms is None or m.created_ms >= q.created_from_ms)
            and (q.created_to_ms is None or m.created_ms < q.created_to_ms)
            and (q.expiry_from_ms is None or m.expires_ms >= q.expiry_from_ms)
            and (q.expiry_to_ms is None or m.expires_ms < q.expiry_to_ms)
        )

    found = [r for r in data.maskings if keep(r)]
    return sorted(
        found,
        key=lambda r: (r.masking.created_ms, r.masking.masking_id),
        reverse=q.page.descending,
    )
