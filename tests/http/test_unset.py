"""Unsetting maskings: selectors, ending now, moving the end, and account boundaries."""

from __future__ import annotations

import pytest

from callmask.domain.errors import Code
from tests.support import (
    DID0,
    DID1,
    NOW,
    OTHER_DID,
    SET,
    UNSET,
    A,
    B,
    C,
    D,
    E,
    Live,
    assert_error,
    post_as,
)


def _maskings(answer: dict[str, object]) -> list[dict[str, object]]:
    maskings = answer["maskings"]
    assert isinstance(maskings, list), answer
    assert answer["count"] == len(maskings)
    return maskings


def _ids(answer: dict[str, object]) -> set[str]:
    return {str(m["maskingId"]) for m in _maskings(answer)}


def _ends(answer: dict[str, object]) -> list[object]:
    return [m["expiry_time"] for m in _maskings(answer)]


def test_unset_answers_count_and_maskings(live: Live) -> None:
    first = live.set(m1=A, m2=B, eventId="e-1")
    live.clock.advance(5)
    answer = live.unset(m1=A, m2=B)
    assert answer["status"] == "success"
    assert answer["code"] == 200
    assert answer["message"] == "Masking unset successfully"
    assert answer["count"] == 1
    assert answer["maskings"] == [
        {
            "maskingId": first["maskingId"],
            "mask": DID0,
            "m1": A,
            "m2": B,
            "eventId": "e-1",
            "expiry_time": NOW + 5,
            "callTimeLimit": None,
            "record": None,
        }
    ]


def test_unset_needs_at_least_one_selector(live: Live) -> None:
    live.set(m1=A, m2=B)
    for params in [{}, {"m1": ""}, {"m1": None, "mask": ""}, {"expiry_duration": -1}]:
        answer = live.unset(**params)
        assert answer["code"] == Code.INVALID_PARAMETERS, (params, answer)
        assert "m1, m2 or mask" in str(answer["message"])
    assert live.route(A, DID0)["action"] == "connect"


def test_unset_invalid_selector_is_1000_naming_it(live: Live) -> None:
    for field in ("m1", "m2", "mask"):
        assert_error(live.unset(**{field: "12345"}), Code.INVALID_PARAMETERS, field)


def test_m1_alone_ends_every_masking_that_number_is_in(live: Live) -> None:
    ab = live.set(m1=A, m2=B)
    ca = live.set(m1=C, m2=A)  # A as m2 still matches m1=A
    live.set(m1=D, m2=E)
    answer = live.unset(m1=A)
    assert answer["count"] == 2
    assert _ids(answer) == {ab["maskingId"], ca["maskingId"]}
    assert live.route(A, DID0)["action"] == "reject"
    assert live.route(C, DID1)["action"] == "reject"
    assert live.route(D, DID0)["to"] == E


def test_m2_alone_selects_by_party_too(live: Live) -> None:
    ab = live.set(m1=A, m2=B)
    assert _ids(live.unset(m2=A)) == {ab["maskingId"]}


def test_m1_and_m2_together_select_only_that_pair_in_either_order(live: Live) -> None:
    live.set(m1=A, m2=B)
    ac = live.set(m1=A, m2=C)
    answer = live.unset(m1=C, m2=A)
    assert answer["count"] == 1
    assert _ids(answer) == {ac["maskingId"]}
    assert live.route(A, DID0)["to"] == B
    assert live.route(A, DID1)["action"] == "reject"


def test_mask_alone_ends_every_masking_on_that_number(live: Live) -> None:
    ab = live.set(m1=A, m2=B)  # DID0
    cd = live.set(m1=C, m2=D)  # DID0
    live.set(m1=A, m2=E)  # DID1
    answer = live.unset(mask=DID0)
    assert answer["count"] == 2
    assert _ids(answer) == {ab["maskingId"], cd["maskingId"]}
    for caller in (A, B, C, D):
        assert live.route(caller, DID0)["action"] == "reject"
    assert live.route(E, DID1)["to"] == A


def test_mask_and_party_together_are_anded(live: Live) -> None:
    live.set(m1=A, m2=B)  # DID0
    cd = live.set(m1=C, m2=D)  # DID0
    live.set(m1=C, m2=E)  # DID1
    answer = live.unset(mask=DID0, m1=D)
    assert _ids(answer) == {cd["maskingId"]}
    assert live.route(A, DID0)["to"] == B
    assert live.route(E, DID1)["to"] == C
    assert_error(live.unset(mask=DID1, m1=A), Code.INVALID_PARAMETERS)


@pytest.mark.parametrize(
    "ending",
    [
        {},
        {"expiry_duration": -1},
        {"expiry_duration": "-1"},
        {"expiry_duration": 0},
        {"expiry_time": NOW - 60},
        {"expiry_time": "2025-12-31T00:00:00Z"},
    ],
    ids=["neither", "negative", "negative-string", "zero", "past-seconds", "past-iso"],
)
def test_unset_without_a_future_expiry_ends_the_masking_now(
    live: Live, ending: dict[str, object]
) -> None:
    live.set(m1=A, m2=B)
    live.clock.advance(30)
    answer = live.unset(m1=A, **ending)
    assert answer["status"] == "success", answer
    assert _ends(answer) == [NOW + 30]
    rejected = live.route(A, DID0)
    assert (rejected["action"], rejected["sipCode"]) == ("reject", 403)
    assert_error(live.unset(m1=A), Code.INVALID_PARAMETERS, "no active masking")
    # Ended, so the pair is free to be set again, on the number it had.
    again = live.set(m1=A, m2=B)
    assert again["status"] == "success" and again["mask"] == DID0


def test_positive_expiry_duration_moves_the_end_and_routing_follows(live: Live) -> None:
    live.set(m1=A, m2=B)  # default: a day
    start = live.clock.now
    answer = live.unset(m1=A, m2=B, expiry_duration=10)
    assert _ends(answer) == [NOW + 600]
    live.clock.now = start + 599.999
    assert live.route(B, DID0)["action"] == "connect"
    live.clock.now = start + 600
    assert live.route(B, DID0)["action"] == "reject"


def test_positive_expiry_duration_can_extend_a_masking(live: Live) -> None:
    live.set(m1=A, m2=B, expiry_duration=1)
    answer = live.unset(mask=DID0, expiry_duration=120)
    assert _ends(answer) == [NOW + 7200]
    live.clock.advance(3600)
    assert live.route(A, DID0)["to"] == B
    # Its claim moved with it: A and B cannot be given the same number twice meanwhile.
    assert live.set(m1=A, m2=C)["mask"] == DID1


def test_future_expiry_time_moves_the_end(live: Live) -> None:
    live.set(m1=A, m2=B)
    answer = live.unset(m1=B, expiry_time="2026-01-01T00:05:00Z")
    assert _ends(answer) == [NOW + 300]
    live.clock.advance(299)
    assert live.route(A, DID0)["action"] == "connect"
    live.clock.advance(1)
    assert live.route(A, DID0)["action"] == "reject"


def test_new_end_beyond_the_maximum_is_1000_and_changes_nothing(live: Live) -> None:
    first = live.set(m1=A, m2=B, expiry_duration=1)
    beyond = live.settings.max_expiry_minutes + 1
    assert_error(live.unset(m1=A, expiry_duration=beyond), Code.INVALID_PARAMETERS, "maximum")
    assert_error(live.unset(m1=A, expiry_time="abc"), Code.EXPIRY_NOT_INTEGER)
    live.clock.advance(60)
    assert live.route(A, DID0)["action"] == "reject"
    assert live.route(A, DID0)["maskingId"] == first["maskingId"]


def test_new_end_of_exactly_the_maximum_is_accepted_mid_second(live: Live) -> None:
    live.set(m1=A, m2=B)
    live.clock.advance(0.25)
    answer = live.unset(m1=A, expiry_duration=live.settings.max_expiry_minutes)
    assert answer["status"] == "success", answer


def test_nothing_matched_is_1000_with_a_clear_message(live: Live) -> None:
    live.set(m1=A, m2=B)
    answer = live.unset(m1=C)
    assert answer == {
        "status": "error",
        "message": "no active masking matches the given m1, m2 and mask",
        "code": 1000,
    }


def test_lapsed_masking_is_not_matched(live: Live) -> None:
    live.set(m1=A, m2=B, expiry_duration=1)
    live.clock.advance(60)
    assert_error(live.unset(m1=A), Code.INVALID_PARAMETERS, "no active masking")


def test_another_account_cannot_unset_our_maskings(live: Live, other_token: str) -> None:
    ours = live.set(m1=A, m2=B)
    for selectors in ({"m1": A}, {"m1": A, "m2": B}, {"mask": DID0}):
        answer = post_as(live, UNSET, other_token, "other-api", **selectors)
        assert answer["code"] == Code.INVALID_PARAMETERS, (selectors, answer)
        assert "no active masking" in str(answer["message"])
    routed = live.route(A, DID0)
    assert routed["action"] == "connect" and routed["maskingId"] == ours["maskingId"]


def test_unset_touches_only_our_account_when_both_mask_the_same_pair(
    live: Live, other_token: str
) -> None:
    post_as(live, SET, other_token, "other-api", m1=A, m2=B)
    live.set(m1=A, m2=B)
    answer = post_as(live, UNSET, other_token, "other-api", m1=A)
    assert answer["count"] == 1
    assert [m["mask"] for m in _maskings(answer)] == [OTHER_DID]
    assert live.route(A, DID0)["to"] == B


def test_router_cannot_unset(live: Live) -> None:
    live.set(m1=A, m2=B)
    assert_error(post_as(live, UNSET, live.router_token, "sip", m1=A), Code.PERMISSION_DENIED)
    assert live.route(A, DID0)["action"] == "connect"
