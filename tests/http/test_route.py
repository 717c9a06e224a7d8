"""Routing calls to pool numbers, as the SIP proxy asks on each INVITE."""

from __future__ import annotations

import httpx

from callmask.domain.errors import Code
from tests.support import (
    DID0,
    DID1,
    DID2,
    OTHER_DID,
    ROUTE,
    SET,
    SSID,
    A,
    B,
    C,
    D,
    Live,
    assert_error,
    post_as,
)


def test_route_connects_both_directions_with_the_masking(live: Live) -> None:
    masking = live.set(m1=919876543210, m2="+91 98123 45678", eventId="trip-9")
    for caller, other in ((A, B), (B, A)):
        answer = live.route(caller, DID0)
        assert answer == {
            "status": "success",
            "code": 200,
            "message": "connect",
            "action": "connect",
            "caller": caller,
            "to": other,
            "callerId": DID0,
            "maskingId": masking["maskingId"],
            "eventId": "trip-9",
            "callTimeLimit": 0,
            "record": False,
        }


def test_route_takes_user_id_and_token_in_the_query_string(live: Live) -> None:
    live.set(m1=A, m2=B)
    query = {"userId": "sip", "token": live.router_token, "caller": A, "mask": DID0}
    answer = live.get(ROUTE, params=query).json()
    assert (answer["action"], answer["to"]) == ("connect", B)


def test_route_by_post_with_a_json_body(live: Live) -> None:
    live.set(m1=A, m2=B)
    answer = live.post(
        ROUTE,
        json={"caller": B, "mask": DID0},
        headers={"Authorization": f"Bearer {live.router_token}"},
    ).json()
    assert (answer["action"], answer["to"]) == ("connect", A)


def test_route_reads_numbers_in_any_written_form(live: Live) -> None:
    live.set(m1=A, m2=B)
    bearer = {"Authorization": f"Bearer {live.router_token}"}
    # A raw plus in a query string is a space once decoded; Kamailio may send it so.
    raw = live.get(ROUTE + "?caller=+919876543210&mask=+918040000000", headers=bearer).json()
    assert raw["to"] == B, raw
    national = live.get(
        ROUTE, params={"caller": "09876543210", "mask": "08040000000"}, headers=bearer
    )
    assert national.json()["to"] == B


def test_caller_without_a_masking_on_the_number_is_rejected_403(live: Live) -> None:
    live.set(m1=A, m2=B)
    answer = live.route(C, DID0)
    assert answer["status"] == "success"
    assert answer["action"] == "reject"
    assert answer["sipCode"] == 403
    assert answer["reason"] == "caller has no masking on this number"
    assert answer["maskingId"] is None
    assert "to" not in answer


def test_withheld_or_malformed_caller_is_rejected_403(live: Live) -> None:
    live.set(m1=A, m2=B)
    for caller in ("anonymous", "", "12", "+"):
        answer = live.route(caller, DID0)
        assert (answer["action"], answer["sipCode"]) == ("reject", 403), (caller, answer)


def test_unknown_number_is_rejected_404(live: Live) -> None:
    live.set(m1=A, m2=B)
    answer = live.route(A, "+918040000009")
    assert (answer["action"], answer["sipCode"], answer["reason"]) == (
        "reject",
        404,
        "unknown number",
    )


def test_invalid_mask_is_1000_naming_it(live: Live) -> None:
    answer = live.route(A, "not-a-number")
    assert (answer["status"], answer["code"]) == ("error", Code.INVALID_PARAMETERS)
    assert "mask" in str(answer["message"])


def test_expired_masking_is_rejected_403_naming_it(live: Live) -> None:
    masking = live.set(m1=A, m2=B, expiry_duration=5)
    live.clock.advance(300)
    answer = live.route(A, DID0)
    assert (answer["action"], answer["sipCode"]) == ("reject", 403)
    assert answer["reason"] == "masking expired"
    assert answer["maskingId"] == masking["maskingId"]


def test_unset_masking_is_rejected_403(live: Live) -> None:
    masking = live.set(m1=A, m2=B)
    live.unset(m1=A)
    for caller in (A, B):
        answer = live.route(caller, DID0)
        assert (answer["action"], answer["sipCode"]) == ("reject", 403)
        assert answer["maskingId"] == masking["maskingId"]


def test_caller_is_routed_by_the_number_called(live: Live) -> None:
    live.set(m1=A, m2=B)  # DID0
    live.set(m1=A, m2=C)  # DID1
    live.set(m1=D, m2=C)  # DID0: C holds DID1
    assert live.route(A, DID0)["to"] == B
    assert live.route(A, DID1)["to"] == C
    assert live.route(C, DID1)["to"] == A
    assert live.route(C, DID0)["to"] == D
    assert live.route(A, DID2)["action"] == "reject"
    assert live.route(B, DID1)["action"] == "reject"


def test_another_accounts_masking_does_not_route_on_our_numbers(
    live: Live, other_token: str
) -> None:
    theirs = post_as(live, SET, other_token, "other-api", m1=A, m2=B)
    assert theirs["mask"] == OTHER_DID
    assert live.route(A, DID0)["action"] == "reject"
    assert live.route(A, OTHER_DID)["to"] == B

    ours = live.set(m1=C, m2=D)
    assert ours["mask"] == DID0
    assert live.route(C, OTHER_DID)["action"] == "reject"
    assert live.route(C, DID0)["to"] == D
    assert live.route(A, DID0)["action"] == "reject"


def _fields(response: httpx.Response) -> tuple[int, dict[str, str], object]:
    headers = {k: v for k, v in response.headers.items() if k not in ("date", "x-request-id")}
    return response.status_code, headers, response.json()


def test_get_lookups_answer_exactly_as_the_routed_post(live: Live) -> None:
    # GET is answered by a fast path in front of the router (http/fastroute.py); POST by the
    # routed handler. Same bytes, headers and status for every outcome.
    live.set(m1=A, m2=B)
    bearer = {"Authorization": f"Bearer {live.router_token}"}
    cases = [
        ({"caller": A, "mask": DID0}, bearer),  # connect
        ({"caller": C, "mask": DID0}, bearer),  # reject 403
        ({"caller": A, "mask": "+918099999999"}, bearer),  # reject 404
        ({"caller": A, "mask": "12"}, bearer),  # 1000
        ({"caller": A, "mask": DID0}, {"Authorization": "Bearer wrong"}),  # 1014
        ({"caller": A, "mask": DID0, "userId": "acme", "token": live.client_token}, {}),  # 1015
    ]
    for params, headers in cases:
        for path in (ROUTE, ROUTE + "/"):
            got = _fields(live.get(path, params=params, headers=headers))
            posted = _fields(live.post(path, json=params, headers=headers))
            assert got == posted, (params, got, posted)
            assert got[1]["access-control-allow-origin"] == "*"


def test_get_lookup_without_parameters_is_1047(live: Live) -> None:
    answer = live.get(ROUTE, headers={"Authorization": f"Bearer {live.router_token}"})
    assert answer.status_code == 200
    assert answer.json()["code"] == Code.INVALID_REQUEST_DATA


def test_two_kinds_of_credentials_are_1000_in_every_form(live: Live) -> None:
    live.set(m1=A, m2=B)
    ssid_client = live.post(SSID, json=live.auth()).json()["ssid"]
    bearer = {"Authorization": f"Bearer {live.router_token}"}
    query = {"caller": A, "mask": DID0}
    by_token = {**query, "userId": "sip", "token": live.router_token}
    answers = [
        # The bearer used to win over userId/token, and an ssid over the bearer.
        live.get(ROUTE, params=by_token, headers=bearer),
        live.get(ROUTE, params={**query, "ssid": ssid_client}, headers=bearer),
        live.get(ROUTE, params={**query, "token": "guess"}, headers=bearer),
        live.post(ROUTE, json=by_token, headers=bearer),
        live.post(ROUTE, json={**query, "ssid": ssid_client}, headers=bearer),
    ]
    for answer in answers:
        assert_error(answer.json(), Code.INVALID_PARAMETERS, "one kind of credentials")
