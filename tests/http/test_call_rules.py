"""Per-call rules over the real socket: a call's time limit, from set to the route answer, and
the calls the proxy ended at it, in the report and the webhooks."""

from __future__ import annotations

import pytest

from callmask.cli import main
from callmask.domain.calls import CallEvent, EndedBy
from callmask.domain.errors import Code
from callmask.domain.numbers import E164
from callmask.domain.permissions import Permission
from tests.receiver import Receiver
from tests.support import (
    DID0,
    DID1,
    MASKING_GET,
    MASKING_LIST,
    MASKLIST,
    NOW,
    ROUTE,
    A,
    B,
    C,
    D,
    Live,
    add_user,
    as_analyst,
    assert_error,
    count,
    record_calls,
    set_webhook,
)

NOW_MS = NOW * 1000


def account(live: Live, *argv: str) -> int:
    """`callmask account ...` against the live server's database, as an operator runs it."""
    return main(["account", *argv], settings=live.settings)


# -- callTimeLimit on set ---------------------------------------------------------------------


@pytest.mark.parametrize(("sent", "kept"), [(90, 90), ("90", 90), (0, 0), (86_400, 86_400)])
def test_set_keeps_the_call_time_limit_and_shows_it_wherever_the_masking_is_shown(
    live: Live, sent: object, kept: int
) -> None:
    made = live.set(m1=A, m2=B, callTimeLimit=sent)
    assert made["status"] == "success", made
    assert made["callTimeLimit"] == kept
    got = live.post(MASKING_GET, json=live.auth(maskingId=made["maskingId"])).json()
    listed = live.post(MASKING_LIST, json=live.auth()).json()
    assert got["maskings"][0]["callTimeLimit"] == kept
    assert listed["maskings"][0]["callTimeLimit"] == kept


def test_set_without_a_call_time_limit_shows_null_the_defaults_apply(live: Live) -> None:
    for absent in ({}, {"callTimeLimit": None}, {"callTimeLimit": ""}):
        made = live.set(m1=A, m2=B, **absent)
        assert made["status"] == "success" and made["callTimeLimit"] is None, made
        live.unset(m1=A)


@pytest.mark.parametrize(
    "bad",
    [-1, "-5", 1.5, "2.5", True, False, "abc", "1e3", 86_401, "99999999", 10**20, "١٥", "９０"],
)
def test_set_with_a_bad_call_time_limit_is_1000_and_stores_nothing(live: Live, bad: object) -> None:
    answer = live.set(m1=A, m2=B, callTimeLimit=bad)
    assert_error(answer, Code.INVALID_PARAMETERS, "callTimeLimit", "0 to 86400")
    assert (count(live, "maskings"), count(live, "claims")) == (0, 0)


# -- the limit a call gets --------------------------------------------------------------------


def _limit(live: Live, caller: str, mask: str) -> object:
    answer = live.route(caller, mask)
    assert answer["action"] == "connect", answer
    return answer["callTimeLimit"]


@pytest.mark.parametrize("settings", [{"call_time_limit": 120}], indirect=True)
def test_a_call_gets_the_maskings_limit_else_the_accounts_else_the_global_one(
    live: Live,
) -> None:
    live.set(m1=A, m2=B)  # DID0, no limit of its own
    live.set(m1=C, m2=D, callTimeLimit=30)  # DID0
    live.set(m1=A, m2=C, callTimeLimit=0)  # DID1: explicitly no limit
    assert (_limit(live, A, DID0), _limit(live, C, DID0), _limit(live, A, DID1)) == (120, 30, 0)
    # The account's default reaches the maskings already made, at their next call.
    assert account(live, "set", "acme", "--call-time-limit", "90") == 0
    assert (_limit(live, B, DID0), _limit(live, D, DID0), _limit(live, C, DID1)) == (90, 30, 0)
    assert account(live, "set", "acme", "--call-time-limit", "default") == 0
    assert _limit(live, A, DID0) == 120


def test_without_any_limit_a_call_gets_0_and_the_post_form_answers_the_same(live: Live) -> None:
    live.set(m1=A, m2=B)
    assert _limit(live, A, DID0) == 0
    posted = live.post(
        ROUTE,
        json={"caller": A, "mask": DID0},
        headers={"Authorization": f"Bearer {live.router_token}"},
    ).json()
    assert posted["callTimeLimit"] == 0
    account(live, "set", "acme", "--call-time-limit", "45")
    assert _limit(live, B, DID0) == 45


def test_another_accounts_default_does_not_reach_our_calls(live: Live) -> None:
    live.set(m1=A, m2=B)
    assert account(live, "set", "other", "--call-time-limit", "10") == 0
    assert _limit(live, A, DID0) == 0


# -- calls the proxy ended at the limit -------------------------------------------------------


def _limited_call(
    live: Live, call_id: str, masking: dict[str, object], ended_by: EndedBy | None = None
) -> None:
    ts = NOW_MS - 200_000
    mask, masking_id = E164(str(masking["mask"])), str(masking["maskingId"])
    record_calls(
        live,
        CallEvent("start", call_id, ts, masking_id, mask, E164(A), E164(B)),
        CallEvent("answer", call_id, ts + 2_000, sip_status=200),
        CallEvent("end", call_id, ts + 92_000, duration_s=90, sip_status=200, ended_by=ended_by),
    )


def test_the_report_shows_which_calls_the_proxy_ended_at_their_limit(live: Live) -> None:
    analyst = add_user(live, "acme-ops", "acme", Permission.LIST_CALL_LOG)
    masking = live.set(m1=A, m2=B, callTimeLimit=90)
    _limited_call(live, "cut", masking, ended_by="limit")
    _limited_call(live, "hung-up", masking)
    answer = as_analyst(live, analyst, MASKLIST)
    ended_by = {call["callId"]: call["endedBy"] for call in answer["calls"]}  # type: ignore[attr-defined]
    assert ended_by == {"cut": "limit", "hung-up": None}
    assert {call["status"] for call in answer["calls"]} == {"completed"}  # type: ignore[attr-defined]


@pytest.mark.parametrize("settings", [{"webhook_poll_seconds": 0.05}], indirect=True)
def test_the_ended_webhook_says_the_call_was_ended_at_its_limit(live: Live) -> None:
    masking = live.set(m1=A, m2=B, callTimeLimit=90)
    with Receiver().running() as receiver:
        set_webhook(live, "acme", receiver.url)
        _limited_call(live, "cut", masking, ended_by="limit")
        receiver.wait_for(lambda r: "call.ended" in [got.json["type"] for got in r.got()])
    [ended] = [got.json for got in receiver.got() if got.json["type"] == "call.ended"]
    assert (ended["data"]["callId"], ended["data"]["endedBy"]) == ("cut", "limit")
