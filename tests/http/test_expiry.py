"""When a masking set over HTTP ends, and that it stops routing at exactly that instant."""

from __future__ import annotations

import itertools

from callmask.domain.errors import Code
from tests.support import DID0, NOW, A, B, C, D, E, F, G, H, Live, assert_error, count

HOUR = NOW + 3600

# Each form, its answered expiry_time (Unix seconds), and a pair of its own.
FORMS = [
    (HOUR, HOUR, (A, B)),
    (str(HOUR), HOUR, (C, D)),
    (HOUR * 1000, HOUR, (E, F)),  # 13-digit milliseconds, as Date.now() gives
    (HOUR * 1000 + 250, HOUR + 1, (G, H)),  # a part second rounds up in the answer
    ("2026-01-01T06:30:00+05:30", HOUR, (A, C)),
    ("2026-01-01T01:00:00Z", HOUR, (B, D)),
    ("2025-12-31T22:00:00-03:00", HOUR, (E, G)),
]


def test_expiry_time_in_seconds_milliseconds_and_iso_is_answered_in_unix_seconds(
    live: Live,
) -> None:
    for raw, expected, (m1, m2) in FORMS:
        answer = live.set(m1=m1, m2=m2, expiry_time=raw)
        assert answer["status"] == "success", (raw, answer)
        assert answer["expiry_time"] == expected, (raw, answer)


def test_expiry_duration_counts_minutes_from_the_clock(live: Live) -> None:
    live.clock.advance(7)
    assert live.set(m1=A, m2=B, expiry_duration=90)["expiry_time"] == NOW + 7 + 90 * 60
    assert live.set(m1=C, m2=D, expiry_duration="90")["expiry_time"] == NOW + 7 + 90 * 60


def test_expiry_time_wins_over_expiry_duration(live: Live) -> None:
    answer = live.set(m1=A, m2=B, expiry_time=NOW + 600, expiry_duration=1440)
    assert answer["expiry_time"] == NOW + 600, answer
    live.clock.advance(600)
    assert live.route(A, DID0)["action"] == "reject"


def test_neither_expiry_means_the_default_minutes_from_the_clock(live: Live) -> None:
    live.clock.advance(123)
    answer = live.set(m1=A, m2=B)
    assert answer["expiry_time"] == NOW + 123 + live.settings.default_expiry_minutes * 60
    assert live.settings.default_expiry_minutes == 1440


def test_non_integer_expiry_is_1502(live: Live) -> None:
    raws: list[object] = ["abc", 1.5, True, False, "1.5", "12abc", [60], {"minutes": 60}]
    for field, raw in itertools.product(("expiry_time", "expiry_duration"), raws):
        answer = live.set(m1=A, m2=B, **{field: raw})
        assert answer["code"] == Code.EXPIRY_NOT_INTEGER, (raw, answer)
        # The vendor's words exactly (clients match on them); which field, beside them.
        assert answer["message"] == "Expiry must be an integer value", (raw, answer)
        assert field in str(answer["detail"]), (raw, answer)
    assert count(live, "maskings") == 0


def test_non_integer_duration_is_1502_even_beside_a_valid_expiry_time(live: Live) -> None:
    answer = live.set(m1=A, m2=B, expiry_time=NOW + 600, expiry_duration="abc")
    assert_error(answer, Code.EXPIRY_NOT_INTEGER, "Expiry must be an integer value")
    assert answer["detail"] == "expiry_duration must be an integer value"


def test_expiry_out_of_range_on_set_is_1000(live: Live) -> None:
    beyond = live.settings.max_expiry_minutes + 1
    for params in [
        {"expiry_time": NOW - 1},
        {"expiry_time": NOW},  # the present instant is already over
        {"expiry_time": 0},
        {"expiry_time": -5},
        {"expiry_time": "2025-12-31T23:59:59Z"},
        {"expiry_time": (NOW - 1) * 1000},
        {"expiry_duration": 0},
        {"expiry_duration": -1},
        {"expiry_duration": "-30"},
        {"expiry_duration": beyond},
        {"expiry_time": NOW + beyond * 60},
        {"expiry_time": "2026-01-01T10:00:00"},  # ISO without an offset
    ]:
        answer = live.set(m1=A, m2=B, **params)
        assert answer["code"] == Code.INVALID_PARAMETERS, (params, answer)
        assert answer["status"] == "error"
    assert count(live, "maskings") == 0


def test_expiry_duration_of_exactly_the_maximum_is_accepted(live: Live) -> None:
    maximum = live.settings.max_expiry_minutes
    answer = live.set(m1=A, m2=B, expiry_duration=maximum)
    assert answer["status"] == "success", answer
    assert answer["expiry_time"] == NOW + maximum * 60


def test_expiry_duration_of_exactly_the_maximum_is_accepted_mid_second(live: Live) -> None:
    live.clock.advance(0.5)  # a real clock is almost never on a whole second
    answer = live.set(m1=A, m2=B, expiry_duration=live.settings.max_expiry_minutes)
    assert answer["status"] == "success", answer


def test_masking_routes_until_the_exact_expiry_instant_and_not_at_it(live: Live) -> None:
    start = live.clock.now
    answer = live.set(m1=A, m2=B, expiry_duration=1)
    assert answer["expiry_time"] == NOW + 60

    live.clock.now = start + 59.999
    assert live.route(A, DID0)["action"] == "connect"
    assert live.route(B, DID0)["action"] == "connect"

    live.clock.now = start + 60
    for caller in (A, B):
        rejected = live.route(caller, DID0)
        assert rejected["action"] == "reject", rejected
        assert rejected["sipCode"] == 403
        assert rejected["maskingId"] == answer["maskingId"]


def test_pair_can_be_set_again_at_the_exact_expiry_instant_without_a_sweep(live: Live) -> None:
    start = live.clock.now
    first = live.set(m1=A, m2=B, expiry_duration=1)
    live.clock.now = start + 59.999
    assert_error(live.set(m1=A, m2=B), Code.ALREADY_MASKED)

    live.clock.now = start + 60
    again = live.set(m1=B, m2=A, expiry_duration=1)
    assert again["status"] == "success", again
    assert again["maskingId"] != first["maskingId"]
    assert again["mask"] == DID0
    assert again["expiry_time"] == NOW + 120
    routed = live.route(A, DID0)
    assert routed["action"] == "connect" and routed["maskingId"] == again["maskingId"]


def test_lapsed_claims_free_the_number_for_a_new_partner_at_the_expiry_instant(
    live: Live,
) -> None:
    start = live.clock.now
    live.set(m1=A, m2=B, expiry_duration=1)
    live.set(m1=A, m2=C)  # DID1
    live.set(m1=A, m2=D)  # DID2
    assert_error(live.set(m1=A, m2=E), Code.POOL_EXHAUSTED)
    live.clock.now = start + 60
    answer = live.set(m1=A, m2=E)
    assert answer["status"] == "success", answer
    assert answer["mask"] == DID0
    assert live.route(E, DID0)["to"] == A
    assert live.route(B, DID0)["action"] == "reject"
