"""Failed authentications lock out an address, or a userId, before credentials are checked."""

from __future__ import annotations

from callmask.domain.errors import Code
from tests.support import (
    DID0,
    MASKING_LIST,
    SET,
    SSID,
    A,
    B,
    Live,
    assert_limited,
    event_from,
    limits,
    listing,
    new_ssid,
    post_from,
    route_from,
)

X, Y, Z = "198.51.100.7", "203.0.113.9", "192.0.2.44"


def fail(live: Live, address: str, user: str = "acme", times: int = 1) -> None:
    for _ in range(times):
        answer = post_from(live, address, MASKING_LIST, {"userId": user, "token": "guess"})
        assert answer.json()["code"] == Code.INVALID_TOKEN, answer.text


@limits(auth_fail_limit_ip=3, auth_fail_window_seconds=60)
def test_an_address_is_locked_out_after_k_failures_even_with_the_right_token(live: Live) -> None:
    fail(live, X, times=2)
    assert listing(live, X).json()["status"] == "success"  # success does not reset the count
    fail(live, X)
    # Locked: the right token is refused too, on every endpoint, else guessing would go on.
    assert_limited(listing(live, X), "failed authentications", "address")
    body = {"userId": "acme", "token": live.client_token, "m1": A, "m2": B}
    assert_limited(post_from(live, X, SET, body))
    assert_limited(post_from(live, X, SSID, {"userId": "acme", "token": live.client_token}))
    assert_limited(post_from(live, X, MASKING_LIST, {"ssid": new_ssid(live)}))
    # Another address is not affected.
    assert listing(live, Y).json()["status"] == "success"
    live.clock.advance(59)
    assert_limited(listing(live, X))
    live.clock.advance(1)
    assert listing(live, X).json()["status"] == "success"
    fail(live, X, times=2)  # a fresh window: K more failures before the next lockout
    assert listing(live, X).json()["status"] == "success"


@limits(auth_fail_limit_ip=3, auth_fail_window_seconds=60)
def test_failures_spread_over_more_than_a_window_do_not_lock(live: Live) -> None:
    fail(live, X, times=2)
    live.clock.advance(60)
    fail(live, X, times=2)
    assert listing(live, X).json()["status"] == "success"


@limits(auth_fail_limit_ip=3, auth_fail_window_seconds=60)
def test_bad_ssids_and_bad_bearer_tokens_count_too(live: Live) -> None:
    post_from(live, X, MASKING_LIST, {"ssid": "forged"})
    route_from(live, X, {"caller": A, "mask": DID0}, "forged-bearer")
    route_from(live, X, {"caller": A, "mask": DID0, "userId": "sip", "token": "guess"})
    assert_limited(listing(live, X))


@limits(auth_fail_limit_ip=2, auth_fail_window_seconds=60)
def test_route_honours_an_address_lockout_but_not_a_neighbours(live: Live) -> None:
    assert live.set(m1=A, m2=B)["status"] == "success"
    fail(live, X, times=2)
    query = {"caller": A, "mask": DID0}
    assert_limited(route_from(live, X, query, live.router_token))
    assert_limited(route_from(live, X, {**query, "userId": "sip", "token": live.router_token}))
    assert route_from(live, Y, query, live.router_token).json()["action"] == "connect"


@limits(auth_fail_limit_ip=2, auth_fail_window_seconds=60)
def test_call_events_count_failures_and_honour_an_address_lockout(live: Live) -> None:
    event = {"event": "answer", "callId": "c1", "ts": 1767225601000}
    assert event_from(live, X, event, bearer="guess").json()["code"] == Code.INVALID_TOKEN
    fail(live, X)
    assert_limited(event_from(live, X, event), "failed authentications")
    assert event_from(live, Y, event).json()["status"] == "success"


@limits(auth_fail_limit_user=3, auth_fail_window_seconds=60)
def test_a_user_id_is_locked_out_after_k_failures_from_anywhere(live: Live) -> None:
    assert listing(live, Z).json()["status"] == "success"  # acme's own server, seen working
    ssid = new_ssid(live)
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        fail(live, address)
    assert_limited(listing(live, Y), "failed authentications", "userId")
    # The address that authenticated as acme before is still checked, so its owner goes on.
    assert listing(live, Z).json()["status"] == "success"
    # Other users, and acme's ssids (they name no userId), are not affected.
    other = post_from(live, Y, MASKING_LIST, {"userId": "sip", "token": live.router_token})
    assert other.json()["code"] == Code.PERMISSION_DENIED
    assert post_from(live, Y, MASKING_LIST, {"ssid": ssid}).json()["status"] == "success"
    live.clock.advance(60)
    assert listing(live, Y).json()["status"] == "success"


@limits(auth_fail_limit_user=2, auth_fail_window_seconds=60)
def test_an_unknown_user_id_locks_like_a_known_one(live: Live) -> None:
    fail(live, X, "ghost", times=2)
    answer = post_from(live, Y, MASKING_LIST, {"userId": "ghost", "token": "guess"})
    assert_limited(answer, "userId")
    assert listing(live, Y).json()["status"] == "success"


@limits(auth_fail_limit_ip=2, auth_fail_limit_user=2, auth_fail_window_seconds=60)
def test_wrong_permission_and_bad_parameters_are_not_failed_authentications(live: Live) -> None:
    for _ in range(3):
        denied = post_from(live, X, SET, {"userId": "sip", "token": live.router_token})
        assert denied.json()["code"] == Code.PERMISSION_DENIED
        both = {"userId": "acme", "token": live.client_token, "ssid": "x"}
        assert post_from(live, X, SET, both).json()["code"] == Code.INVALID_PARAMETERS
    assert listing(live, X).json()["status"] == "success"
