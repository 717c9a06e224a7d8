from __future__ import annotations

import pytest

from callmask.domain.errors import Code, ExpiryNotInteger, InvalidParameters
from callmask.domain.masking import ExpiryRules, expiry_for_set, expiry_for_unset, pair_key
from callmask.domain.numbers import E164

RULES = ExpiryRules(default_minutes=1440, max_minutes=43200)
NOW_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def test_neither_given_uses_default_minutes() -> None:
    assert expiry_for_set(None, None, NOW_MS, RULES) == NOW_MS + 1440 * 60_000


def test_duration_counts_whole_minutes_from_now() -> None:
    assert expiry_for_set(None, 30, NOW_MS, RULES) == NOW_MS + 30 * 60_000
    assert expiry_for_set(None, "30", NOW_MS, RULES) == NOW_MS + 30 * 60_000


def test_duration_from_a_fractional_now_rounds_up_to_a_whole_second() -> None:
    assert expiry_for_set(None, 1, NOW_MS + 400, RULES) == NOW_MS + 61_000


@pytest.mark.parametrize(
    ("raw", "expected_ms"),
    [
        (1_767_229_200, 1_767_229_200_000),
        ("1767229200", 1_767_229_200_000),
        (1_767_229_200_500, 1_767_229_200_500),
        ("2026-01-01T06:30:00+05:30", 1_767_229_200_000),
        ("2026-01-01T01:00:00Z", 1_767_229_200_000),
    ],
)
def test_expiry_time_accepts_seconds_milliseconds_and_iso(raw: object, expected_ms: int) -> None:
    assert expiry_for_set(raw, None, NOW_MS, RULES) == expected_ms


def test_expiry_time_wins_over_duration() -> None:
    assert expiry_for_set(1_767_229_200, 5, NOW_MS, RULES) == 1_767_229_200_000


@pytest.mark.parametrize("raw", ["abc", 1.5, True, "1.5", [1], {"a": 1}, "2026-13-45"])
@pytest.mark.parametrize("field", ["expiry_time", "expiry_duration"])
def test_non_integer_expiry_is_1502(raw: object, field: str) -> None:
    args = {"expiry_time": None, "expiry_duration": None, field: raw}
    with pytest.raises(ExpiryNotInteger) as caught:
        expiry_for_set(args["expiry_time"], args["expiry_duration"], NOW_MS, RULES)
    assert caught.value.code == Code.EXPIRY_NOT_INTEGER


@pytest.mark.parametrize(
    ("expiry_time", "duration"),
    [
        (NOW_MS // 1000, None),  # the present instant is already past
        (NOW_MS // 1000 - 1, None),
        ("2026-01-01T00:00:00", None),  # no offset
        (None, 0),
        (None, -5),
        (None, 43201),
        (NOW_MS // 1000 + 43200 * 60 + 1, None),
    ],
)
def test_past_nonpositive_or_too_far_expiry_on_set_is_1000(
    expiry_time: object, duration: object
) -> None:
    with pytest.raises(InvalidParameters):
        expiry_for_set(expiry_time, duration, NOW_MS, RULES)


def test_maximum_itself_is_allowed() -> None:
    assert expiry_for_set(None, 43200, NOW_MS, RULES) == NOW_MS + 43200 * 60_000


@pytest.mark.parametrize(
    ("expiry_time", "duration"),
    [(None, None), (None, -1), (None, 0), (NOW_MS // 1000 - 60, None)],
)
def test_unset_without_a_future_expiry_ends_now(expiry_time: object, duration: object) -> None:
    assert expiry_for_unset(expiry_time, duration, NOW_MS, RULES) == NOW_MS


def test_unset_with_duration_moves_the_end() -> None:
    assert expiry_for_unset(None, 10, NOW_MS, RULES) == NOW_MS + 600_000


def test_unset_beyond_maximum_is_1000() -> None:
    with pytest.raises(InvalidParameters):
        expiry_for_unset(None, 43201, NOW_MS, RULES)


def test_pair_key_ignores_order() -> None:
    a, b = E164("+919876543210"), E164("+919812345678")
    assert pair_key(a, b) == pair_key(b, a) == (b, a)
