"""Who may call what: userId+token, ssid sessions, and the client/router roles."""

from __future__ import annotations

from callmask.domain.errors import Code
from tests.support import (
    DID0,
    NOW,
    ROUTE,
    SET,
    SSID,
    UNSET,
    A,
    B,
    Live,
    assert_error,
    count,
    new_ssid,
)


def test_user_id_and_token_authenticate_a_client(live: Live) -> None:
    answer = live.post(SET, json={"userId": "acme", "token": live.client_token, "m1": A, "m2": B})
    assert answer.json()["status"] == "success"


def test_ssid_is_created_from_user_id_and_token_and_lives_ssid_ttl_minutes(live: Live) -> None:
    answer = live.post(SSID, json={"userId": "acme", "token": live.client_token}).json()
    assert answer["status"] == "success", answer
    assert answer["code"] == 200
    assert isinstance(answer["ssid"], str) and len(answer["ssid"]) >= 32
    assert answer["expiry_time"] == NOW + live.settings.ssid_ttl_minutes * 60
    assert answer["ssid"] != new_ssid(live)


def test_ssid_authenticates_set_and_unset(live: Live) -> None:
    ssid = new_ssid(live)
    answer = live.post(SET, json={"ssid": ssid, "m1": A, "m2": B}).json()
    assert answer["status"] == "success", answer
    unset = live.post(UNSET, data={"ssid": ssid, "m1": A}).json()
    assert unset["count"] == 1


def test_ssid_expires_after_ssid_ttl_minutes_by_the_clock(live: Live) -> None:
    ssid = new_ssid(live)
    start, ttl_s = live.clock.now, live.settings.ssid_ttl_minutes * 60
    live.clock.now = start + ttl_s - 0.001
    assert live.post(SET, json={"ssid": ssid, "m1": A, "m2": B}).json()["status"] == "success"
    live.clock.now = start + ttl_s
    answer = live.post(UNSET, json={"ssid": ssid, "m1": A}).json()
    assert_error(answer, Code.INVALID_TOKEN)
    # The user's token still works, and can make a fresh ssid.
    assert live.post(UNSET, json={"ssid": new_ssid(live), "m1": A}).json()["count"] == 1


def test_a_router_may_not_make_an_ssid(live: Live) -> None:
    # A router's token routes calls and nothing else; tests/abuse covers every endpoint.
    answer = live.post(SSID, json={"userId": "sip", "token": live.router_token}).json()
    assert_error(answer, Code.PERMISSION_DENIED, "ssid")


def test_ssid_cannot_be_made_from_an_ssid(live: Live) -> None:
    ssid = new_ssid(live)
    assert_error(live.post(SSID, json={"ssid": ssid}).json(), Code.INVALID_PARAMETERS, "ssid")


def test_both_kinds_of_credentials_are_1000(live: Live) -> None:
    ssid = new_ssid(live)
    for creds in [
        {"ssid": ssid, "userId": "acme", "token": live.client_token},
        {"ssid": ssid, "userId": "acme"},
        {"ssid": ssid, "token": live.client_token},
    ]:
        answer = live.post(SET, json={**creds, "m1": A, "m2": B}).json()
        assert answer["code"] == Code.INVALID_PARAMETERS, (creds, answer)
        assert "not both" in str(answer["message"])
    assert count(live, "maskings") == 0


def test_bad_credentials_are_1014(live: Live) -> None:
    for creds in [
        {"userId": "acme", "token": "not-the-token"},
        {"userId": "acme", "token": live.client_token + "x"},
        {"userId": "acme", "token": live.router_token},  # someone else's token
        {"userId": "nobody", "token": live.client_token},
        {"userId": "ACME", "token": live.client_token},
        {"ssid": "not-an-ssid"},
        {"ssid": live.client_token},
        {},
        {"userId": "", "token": "", "ssid": ""},
    ]:
        for path in (SET, UNSET) if "ssid" in creds else (SET, UNSET, SSID):
            answer = live.post(path, json={**creds, "m1": A, "m2": B}).json()
            assert answer["code"] == Code.INVALID_TOKEN, (path, creds, answer)
            assert answer["status"] == "error"
    assert count(live, "maskings") == 0


def test_bad_credentials_in_the_query_string_are_1014(live: Live) -> None:
    answer = live.post(SET, params={"userId": "acme", "token": "nope", "m1": A, "m2": B})
    assert_error(answer.json(), Code.INVALID_TOKEN)


def test_router_calling_set_or_unset_is_1015(live: Live) -> None:
    router = {"userId": "sip", "token": live.router_token}
    for path in (SET, UNSET):
        answer = live.post(path, json={**router, "m1": A, "m2": B}).json()
        assert answer["code"] == Code.PERMISSION_DENIED, (path, answer)
    assert count(live, "maskings") == 0


def test_client_calling_route_is_1015(live: Live) -> None:
    live.set(m1=A, m2=B)
    query = {"caller": A, "mask": DID0}
    as_bearer = live.get(
        ROUTE, params=query, headers={"Authorization": f"Bearer {live.client_token}"}
    )
    assert_error(as_bearer.json(), Code.PERMISSION_DENIED)
    as_params = live.get(ROUTE, params=live.auth(**query))
    assert_error(as_params.json(), Code.PERMISSION_DENIED)
    as_ssid = live.get(ROUTE, params={"ssid": new_ssid(live), **query})
    assert_error(as_ssid.json(), Code.PERMISSION_DENIED)


def test_bad_bearer_token_on_route_is_1014(live: Live) -> None:
    query = {"caller": A, "mask": DID0}
    for header in ("Bearer wrong", f"bearer {live.router_token}x", f"Basic {live.router_token}"):
        answer = live.get(ROUTE, params=query, headers={"Authorization": header}).json()
        assert answer["code"] == Code.INVALID_TOKEN, (header, answer)


def test_route_without_credentials_is_1014(live: Live) -> None:
    answer = live.get(ROUTE, params={"caller": A, "mask": DID0}).json()
    assert_error(answer, Code.INVALID_TOKEN)
