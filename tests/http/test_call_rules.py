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
    OTHER_DID,
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


# -- out-of-session callers -------------------------------------------------------------------

FALLBACK = "+918012345678"  # the account's call centre, outside every pool


def _bearer(live: Live) -> dict[str, str]:
    return {"Authorization": f"Bearer {live.router_token}"}


@pytest.mark.parametrize("code", ["404", "480"])
def test_an_account_can_reject_out_of_session_callers_with_its_own_sip_code(
    live: Live, code: str
) -> None:
    live.set(m1=A, m2=B, expiry_duration=5)
    assert account(live, "set", "acme", "--out-of-session", "reject", "--reject-code", code) == 0
    stranger = live.route(C, DID0)
    withheld = live.route("anonymous", DID0)
    assert (stranger["action"], stranger["sipCode"]) == ("reject", int(code))
    assert stranger["reason"] == "caller has no masking on this number"
    assert (withheld["action"], withheld["sipCode"]) == ("reject", int(code))
    live.clock.advance(301)
    expired = live.route(A, DID0)
    assert (expired["sipCode"], expired["reason"]) == (int(code), "masking expired")
    # Another account's number, and a number in no pool, answer as before.
    assert live.route(C, OTHER_DID)["sipCode"] == 403
    assert live.route(C, "+918040000009")["sipCode"] == 404
    # A caller with a live masking is still connected.
    live.set(m1=C, m2=D)
    assert live.route(C, DID0)["action"] == "connect"


@pytest.mark.parametrize("settings", [{"call_time_limit": 120}], indirect=True)
def test_an_account_can_forward_out_of_session_callers_to_its_fallback(live: Live) -> None:
    live.set(m1=A, m2=B, callTimeLimit=30)
    assert account(live, "set", "acme", "--out-of-session", "forward:08012345678") == 0
    assert live.route(C, DID0) == {
        "status": "success",
        "code": 200,
        "message": "forward",
        "action": "forward",
        "caller": C,
        "to": FALLBACK,
        "callerId": DID0,
        "maskingId": "",
        "callTimeLimit": 120,
        "record": False,
    }
    # The account's default limit applies; the masking's own is for its parties' calls.
    account(live, "set", "acme", "--call-time-limit", "60")
    forwarded = live.route("anonymous", DID1)
    assert (forwarded["caller"], forwarded["callerId"], forwarded["callTimeLimit"]) == (
        "",
        DID1,
        60,
    )
    assert live.route(A, DID0)["action"] == "connect"
    assert live.route(A, DID0)["callTimeLimit"] == 30
    assert live.route(C, "+918040000009")["sipCode"] == 404


def test_the_forward_answer_is_the_same_by_get_and_by_post(live: Live) -> None:
    account(live, "set", "acme", "--out-of-session", "forward:+918012345678")
    for caller in (C, "anonymous", ""):
        params = {"caller": caller, "mask": DID0}
        got = live.get(ROUTE, params=params, headers=_bearer(live))
        posted = live.post(ROUTE, json=params, headers=_bearer(live))
        assert got.json() == posted.json() and got.json()["action"] == "forward", caller


def test_a_fallback_that_became_a_pool_number_is_rejected_not_looped(live: Live) -> None:
    account(live, "set", "acme", "--out-of-session", "forward:" + FALLBACK)
    assert main(["pool", "add", "--user", "other", FALLBACK], settings=live.settings) == 0
    answer = live.route(C, DID0)
    assert (answer["action"], answer["sipCode"]) == ("reject", 403)


def _forwarded_call(live: Live, call_id: str, caller: E164 | None, at_ms: int) -> None:
    record_calls(
        live,
        CallEvent(
            "start", call_id, at_ms, None, E164(DID0), caller, E164(FALLBACK), action="forward"
        ),
        CallEvent("answer", call_id, at_ms + 2_000, sip_status=200),
        CallEvent("end", call_id, at_ms + 12_000, duration_s=10, sip_status=200),
    )


def test_forwarded_calls_are_in_the_report_as_forward_with_their_own_status(live: Live) -> None:
    analyst = add_user(live, "acme-ops", "acme", Permission.LIST_CALL_LOG)
    masking = live.set(m1=A, m2=B, eventId="order-1")
    _limited_call(live, "masked", masking)
    _forwarded_call(live, "fwd", E164(C), NOW_MS - 100_000)
    _forwarded_call(live, "fwd-anon", None, NOW_MS - 90_000)
    record_calls(
        live,
        CallEvent(
            "start",
            "fwd-busy",
            NOW_MS - 80_000,
            None,
            E164(DID0),
            E164(D),
            E164(FALLBACK),
            action="forward",
        ),
        CallEvent("failed", "fwd-busy", NOW_MS - 79_000, duration_s=0, sip_status=486),
    )
    answer = as_analyst(live, analyst, MASKLIST)
    calls = {call["callId"]: call for call in answer["calls"]}  # type: ignore[attr-defined]
    assert calls["fwd"] == {
        "callId": "fwd",
        "maskingId": None,
        "eventId": None,
        "mask": DID0,
        "caller": C,
        "callee": FALLBACK,
        "startTime": "2025-12-31T23:58:20.000Z",
        "answerTime": "2025-12-31T23:58:22.000Z",
        "endTime": "2025-12-31T23:58:32.000Z",
        "duration": 10,
        "sipStatus": 200,
        "status": "completed",
        "endedBy": None,
        "action": "forward",
        "recording": None,
    }
    assert calls["fwd-anon"]["caller"] is None
    assert (calls["fwd-busy"]["status"], calls["fwd-busy"]["sipStatus"]) == ("failed", 486)
    assert calls["masked"]["action"] == "connect"

    def ids(**filters: object) -> list[str]:
        found = as_analyst(live, analyst, MASKLIST, **filters)
        assert found["status"] == "success", found
        return sorted(str(call["callId"]) for call in found["calls"])  # type: ignore[attr-defined]

    assert ids(action="forward") == ["fwd", "fwd-anon", "fwd-busy"]
    assert ids(action="connect") == ["masked"]
    assert ids(action="forward", status="failed") == ["fwd-busy"]
    assert ids(party=FALLBACK) == ["fwd", "fwd-anon", "fwd-busy"]
    assert ids(maskingId=masking["maskingId"]) == ["masked"]
    assert ids(eventId="order-1") == ["masked"]
    assert_error(
        as_analyst(live, analyst, MASKLIST, action="drop"), Code.INVALID_PARAMETERS, "action"
    )


@pytest.mark.parametrize("settings", [{"webhook_poll_seconds": 0.05}], indirect=True)
def test_a_forwarded_call_is_announced_forwarded_then_answered_and_ended(live: Live) -> None:
    with Receiver().running() as receiver:
        set_webhook(live, "acme", receiver.url)
        _forwarded_call(live, "fwd", E164(C), NOW_MS - 100_000)
        receiver.wait_for(lambda r: len(r.unique()) == 3)
    got = [request.json for request in receiver.unique().values()]
    assert sorted(body["type"] for body in got) == ["call.answered", "call.ended", "call.forwarded"]
    for body in got:
        assert body["accountId"] == "acme"
        assert (body["data"]["action"], body["data"]["callee"]) == ("forward", FALLBACK)
