"""Pool pressure and call figures per time bucket, against a brute-force count."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callmask.domain.trends import (
    DURATION_BOUNDS,
    DURATION_LABELS,
    Buckets,
    busiest_party,
    call_trends,
    duration_bucket,
    per_bucket,
    pressure,
    projected,
)

MIN = 60_000
WINDOW = Buckets(0, 60 * MIN, 10 * MIN)


def _brute(spans: list[tuple[str, str, int, int]], buckets: Buckets) -> list[int]:
    """Each bucket's peak, counted at its start and wherever something starts or ends in it."""
    moments = set(buckets.starts()) | {
        t for _, _, f, e in spans for t in (f, e) if buckets.start_ms <= t < buckets.end_ms
    }
    peaks = [0] * len(buckets)
    for at in moments:
        held: dict[str, int] = {}
        for m1, m2, f, e in spans:
            if f <= at < e:
                for party in (m1, m2):
                    held[party] = held.get(party, 0) + 1
        i = buckets.index(at)
        peaks[i] = max(peaks[i], max(held.values(), default=0))
    return peaks


def test_a_hub_with_three_overlapping_maskings_peaks_at_three_then_falls() -> None:
    spans = [
        ("hub", "a", 0, 25 * MIN),
        ("hub", "b", 5 * MIN, 35 * MIN),
        ("c", "hub", 12 * MIN, 15 * MIN),
        ("d", "e", 50 * MIN, 70 * MIN),
    ]
    assert busiest_party(spans, WINDOW) == [2, 3, 2, 1, 0, 1]


def test_a_masking_ending_as_another_starts_does_not_overlap_it() -> None:
    spans = [("hub", "a", 0, 10 * MIN), ("hub", "b", 10 * MIN, 20 * MIN)]
    assert busiest_party(spans, WINDOW)[:2] == [1, 1]


def test_maskings_live_before_the_window_count_from_its_start() -> None:
    spans = [("hub", "a", -99 * MIN, 15 * MIN), ("hub", "b", -5 * MIN, 99 * MIN)]
    assert busiest_party(spans, WINDOW) == [2, 2, 1, 1, 1, 1]


spans_strategy = st.lists(
    st.tuples(
        st.sampled_from("abcde"),
        st.sampled_from("vwxyz"),
        st.integers(-20 * MIN, 70 * MIN),
        st.integers(1, 40 * MIN),
    ).map(lambda s: (s[0], s[1], s[2], s[2] + s[3])),
    max_size=25,
)


@settings(max_examples=200, deadline=None)
@given(spans_strategy, st.sampled_from([MIN, 7 * MIN, 10 * MIN, 60 * MIN]))
def test_the_sweep_matches_a_brute_force_count(
    spans: list[tuple[str, str, int, int]], step: int
) -> None:
    buckets = Buckets(0, 60 * MIN, step)
    assert busiest_party(spans, buckets) == _brute(spans, buckets)


def test_buckets_cover_the_window_with_a_shorter_last_one() -> None:
    buckets = Buckets(0, 25 * MIN, 10 * MIN)
    assert len(buckets) == 3
    assert buckets.starts() == [0, 10 * MIN, 20 * MIN]
    assert buckets.index(-5) == 0 and buckets.index(24 * MIN) == 2 and buckets.index(99 * MIN) == 2
    with pytest.raises(ValueError):
        Buckets(0, 0, MIN)


def test_a_rising_trend_projects_a_larger_pool_and_a_falling_one_keeps_the_peak() -> None:
    assert projected([1, 2, 3, 4], 4) == 8
    assert projected([4, 3, 2, 1], 4) == 4
    assert projected([3, 3, 3], 10) == 3
    assert projected([5], 3) == 5
    assert projected([], 3) == 0


def test_refusals_per_hour_fall_into_their_buckets() -> None:
    hours = Buckets(0, 3 * 3_600_000, 3_600_000)
    assert per_bucket([(0, 2), (3_600_000, 1), (7_200_000, 4), (99 * 3_600_000, 9)], hours) == [
        2,
        1,
        4,
    ]
    drawn = pressure([("a", "b", 0, 1)], [(0, 2)], hours)
    assert (drawn.peak, drawn.refusals, drawn.projected) == (1, [2, 0, 0], 1)


def test_call_figures_count_calls_answers_and_talk_time_per_bucket() -> None:
    hours = Buckets(0, 2 * 3_600_000, 3_600_000)
    facts = [
        (10, "completed", 20, 5),
        (20, "failed", None, None),
        (3_600_000, "completed", 3_600_500, 45),
        (3_600_001, "completed", 3_600_900, 700),
        (2 * 3_600_000, "completed", 2 * 3_600_000 + 5, 1),  # outside the window
    ]
    trends = call_trends(facts, hours)
    assert trends.calls == [2, 2] and trends.answered == [1, 2]
    assert trends.answer_rate == [50.0, 100.0]
    assert trends.durations == [1, 0, 1, 0, 0, 0, 1]
    assert (trends.total, trends.total_answered) == (4, 3)
    assert call_trends([], hours).answer_rate == [None, None]


def test_every_talk_time_has_one_labelled_bucket() -> None:
    assert len(DURATION_LABELS) == len(DURATION_BOUNDS) + 1
    assert [duration_bucket(s) for s in (0, 9, 10, 59, 60, 599, 600, 10**6)] == [
        0,
        0,
        1,
        2,
        3,
        5,
        6,
        6,
    ]
