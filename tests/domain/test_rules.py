from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callmask.domain.errors import InvalidParameters
from callmask.domain.rules import (
    MAX_CALL_TIME_LIMIT_S,
    account_call_time_limit,
    call_time_limit,
    effective_call_time_limit,
    out_of_session,
    reject_code,
)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (0, 0),
        (90, 90),
        ("90", 90),
        (" 90 ", 90),
        ("+90", 90),
        (90.0, 90),  # a JSON 90.0: whole, as expiry_duration takes it
        (86_400, 86_400),
        ("086400", 86_400),
    ],
)
def test_call_time_limit_takes_whole_seconds_as_number_or_digit_string(
    value: object, seconds: int
) -> None:
    assert call_time_limit(value) == seconds


@pytest.mark.parametrize(
    "value",
    [
        -1,
        "-1",
        1.5,
        "1.5",
        "90.0",
        True,
        False,
        "abc",
        "",
        "1e3",
        MAX_CALL_TIME_LIMIT_S + 1,
        str(MAX_CALL_TIME_LIMIT_S + 1),
        10**30,
        "9" * 40,
        1e300,
        "١٥",  # Arabic-Indic 15: int() reads it, a limit is not written so
        "６０",  # fullwidth 60
        [60],
        {"seconds": 60},
        None,
    ],
)
def test_call_time_limit_refuses_every_other_value_with_1000_naming_the_field(
    value: object,
) -> None:
    with pytest.raises(InvalidParameters) as refused:
        call_time_limit(value)
    assert refused.value.detail == (
        "callTimeLimit must be whole seconds from 0 to 86400 (0: no limit)"
    )


@given(st.integers())
def test_an_integer_is_its_own_limit_exactly_when_within_bounds(seconds: int) -> None:
    if 0 <= seconds <= MAX_CALL_TIME_LIMIT_S:
        assert call_time_limit(seconds) == call_time_limit(str(seconds)) == seconds
    else:
        with pytest.raises(InvalidParameters):
            call_time_limit(seconds)


def test_an_accounts_limit_is_seconds_or_default_for_the_global_one() -> None:
    assert account_call_time_limit("120") == 120
    assert account_call_time_limit("0") == 0
    assert account_call_time_limit("default") is None
    assert account_call_time_limit(" Default ") is None
    with pytest.raises(InvalidParameters, match='--call-time-limit .* or "default"'):
        account_call_time_limit("forever")


def test_the_maskings_limit_wins_then_the_accounts_then_the_global_default() -> None:
    assert effective_call_time_limit(30, 90, 120) == 30
    assert effective_call_time_limit(0, 90, 120) == 0  # the masking's "no limit" is a value
    assert effective_call_time_limit(None, 90, 120) == 90
    assert effective_call_time_limit(None, 0, 120) == 0
    assert effective_call_time_limit(None, None, 120) == 120


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("reject", ("reject", None)),
        (" reject ", ("reject", None)),
        ("forward:+918012345678", ("forward", "+918012345678")),
        ("forward:08012345678", ("forward", "+918012345678")),
        ("forward:+91 80 1234 5678", ("forward", "+918012345678")),
        ("forward:+14155550123", ("forward", "+14155550123")),
    ],
)
def test_out_of_session_is_reject_or_forward_to_a_normalised_number(
    value: str, rule: tuple[str, str | None]
) -> None:
    assert out_of_session(value, "IN") == rule


@pytest.mark.parametrize(
    "value",
    ["", "drop", "Reject", "reject:403", "forward", "forward:", "forward:12ab", "forward:+1"],
)
def test_out_of_session_refuses_anything_else(value: str) -> None:
    with pytest.raises(InvalidParameters, match="--out-of-session"):
        out_of_session(value, "IN")


def test_reject_code_is_one_of_403_404_480() -> None:
    assert [reject_code(code) for code in ("403", "404", " 480 ")] == [403, 404, 480]
    for bad in ("200", "486", "", "abc", "４０４", "+403"):
        with pytest.raises(InvalidParameters, match="--reject-code must be one of 403, 404, 480"):
            reject_code(bad)
