"""How an account's figures moved over time: pool pressure, 1505s and calls, per time bucket.

Pool pressure is the busiest party's live maskings against the pool size. A new masking needs
a number neither party already holds, so when one party holds as many live maskings as the
pool has numbers, its next masking is a 1505: the busiest party's count is the least pool the
account could have run with (callmask's allocator kept to it on the realistic workloads of
docs/pool.md; a dispatch capping each party needed 1.5 times it), and its trend says what
pool the account will need.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

HOUR_MS = 3_600_000
# A call's talk time, in seconds, falls in the first bucket whose upper bound it is below.
DURATION_BOUNDS = (10, 30, 60, 120, 300, 600)
DURATION_LABELS = ("<10s", "10–30s", "30–60s", "1–2m", "2–5m", "5–10m", "≥10m")


@dataclass(frozen=True, slots=True)
class Buckets:
    """[start_ms, end_ms) cut into len(...) buckets of step_ms (the last may be shorter)."""

    start_ms: int
    end_ms: int
    step_ms: int

    def __post_init__(self) -> None:
        if self.step_ms <= 0 or self.end_ms <= self.start_ms:
            raise ValueError("buckets need a positive step and a window")

    def __len__(self) -> int:
        return -(-(self.end_ms - self.start_ms) // self.step_ms)

    def index(self, at_ms: int) -> int:
        """The bucket at_ms falls in, clamped to the window."""
        return min(max((at_ms - self.start_ms) // self.step_ms, 0), len(self) - 1)

    def starts(self) -> list[int]:
        return [self.start_ms + i * self.step_ms for i in range(len(self))]


@dataclass(frozen=True, slots=True)
class Pressure:
    buckets: Buckets
    # Per bucket: the most live maskings one party held at any moment in it.
    busiest: list[int]
    # Per bucket: the 1505s answered in it.
    refusals: list[int]
    peak: int
    # The pool the busiest party's trend reaches one window after the end (never below peak).
    projected: int


def busiest_party(spans: Iterable[tuple[str, str, int, int]], buckets: Buckets) -> list[int]:
    """Per bucket, the peak over time of the largest number of live maskings one party holds.

    spans: (m1, m2, from_ms, to_ms), each masking live in [from_ms, to_ms). One sweep over
    the starts and ends in time order; at equal times ends go first (half-open intervals).
    Parties become small integers so the sweep indexes lists (it runs per overview load).
    """
    ids: dict[str, int] = {}
    events: list[tuple[int, int, int]] = []
    for m1, m2, from_ms, to_ms in spans:
        if to_ms <= buckets.start_ms or from_ms >= buckets.end_ms or to_ms <= from_ms:
            continue
        begin = max(from_ms, buckets.start_ms)
        for party in (m1, m2):
            who = ids.setdefault(party, len(ids))
            events.append((begin, 1, who))
            if to_ms < buckets.end_ms:
                events.append((to_ms, -1, who))
    events.sort()  # by time, then ends (-1) before starts
    count, start_ms, step_ms = len(buckets), buckets.start_ms, buckets.step_ms
    peaks = [0] * count
    held = [0] * len(ids)
    # How many parties hold each count, so the largest count is known after every change.
    holding = [0] * (len(events) + 2)
    holding[0] = len(ids)
    current = bucket = 0
    i, total = 0, len(events)
    while i < total:
        at_ms = events[i][0]
        index = min(max((at_ms - start_ms) // step_ms, 0), count - 1)
        while bucket < index:
            bucket += 1
            peaks[bucket] = current  # what was live as the bucket began
        # Ends go before starts, so no moment between them counts; what a bucket carried in
        # does not count when it changes at the bucket's very start.
        carried = 0 if at_ms == start_ms + bucket * step_ms else peaks[bucket]
        while i < total and events[i][0] == at_ms:
            _, delta, who = events[i]
            i += 1
            before = held[who]
            after = before + delta
            held[who] = after
            holding[before] -= 1
            holding[after] += 1
            if after > current:
                current = after
            elif before == current and holding[before] == 0:
                current = before - 1
        peaks[bucket] = max(carried, current)
    for rest in range(bucket + 1, count):
        peaks[rest] = current
    return peaks


def per_bucket(hours: Iterable[tuple[int, int]], buckets: Buckets) -> list[int]:
    """Counts stored per hour (hour_ms, count) summed into the buckets; outside ones dropped."""
    sums = [0] * len(buckets)
    for hour_ms, count in hours:
        if buckets.start_ms - HOUR_MS < hour_ms < buckets.end_ms:
            sums[buckets.index(hour_ms)] += count
    return sums


def projected(values: Sequence[int], ahead: int) -> int:
    """Where a least-squares line through values reaches `ahead` buckets past the last one;
    never below the highest value (a falling trend does not shrink the pool needed)."""
    peak = max(values, default=0)
    n = len(values)
    if n < 2:
        return peak
    mean_x, mean_y = (n - 1) / 2, sum(values) / n
    spread = sum((x - mean_x) ** 2 for x in range(n))
    slope = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(values)) / spread
    reached = mean_y + slope * (n - 1 + ahead - mean_x)
    return max(peak, math.ceil(reached - 1e-9))


def pressure(
    spans: Iterable[tuple[str, str, int, int]],
    refusal_hours: Iterable[tuple[int, int]],
    buckets: Buckets,
) -> Pressure:
    busiest = busiest_party(spans, buckets)
    return Pressure(
        buckets,
        busiest,
        per_bucket(refusal_hours, buckets),
        max(busiest, default=0),
        projected(busiest, len(buckets)),
    )


@dataclass(frozen=True, slots=True)
class CallTrends:
    buckets: Buckets
    calls: list[int]
    answered: list[int]
    # Per bucket, answered / calls as a percentage; None where there were no calls.
    answer_rate: list[float | None]
    # Answered calls per DURATION_LABELS bucket.
    durations: list[int]
    total: int
    total_answered: int


def duration_bucket(seconds: int) -> int:
    for index, bound in enumerate(DURATION_BOUNDS):
        if seconds < bound:
            return index
    return len(DURATION_BOUNDS)


def call_trends(
    facts: Iterable[tuple[int, str, int | None, int | None]], buckets: Buckets
) -> CallTrends:
    """facts: (started_ms, outcome, answered_ms, duration_s) of each call in the window."""
    calls = [0] * len(buckets)
    answered = [0] * len(buckets)
    durations = [0] * (len(DURATION_BOUNDS) + 1)
    for started_ms, _outcome, answered_ms, duration_s in facts:
        if not buckets.start_ms <= started_ms < buckets.end_ms:
            continue
        index = buckets.index(started_ms)
        calls[index] += 1
        if answered_ms is not None:
            answered[index] += 1
            durations[duration_bucket(duration_s or 0)] += 1
    rates = [
        None if c == 0 else round(100 * a / c, 1) for c, a in zip(calls, answered, strict=True)
    ]
    return CallTrends(buckets, calls, answered, rates, durations, sum(calls), sum(answered))
