"""Rate limits over a live server: a burst, then 429/1029, then recovery as the clock moves."""

from __future__ import annotations

from tests.support import (
    ADDRESS,
    DELIVERIES,
    DID0,
    MASKING_GET,
    MASKING_LIST,
    MASKLIST,
    SET,
    SSID,
    UNSET,
    A,
    B,
    Live,
    add_user,
    assert_limited,
    count,
    event_from,
    limits,
    listing,
    post_from,
    route_from,
)

X, Y = ADDRESS, "203.0.113.9"


@limits(rate_limit_account_per_second=2.0, rate_limit_account_burst=5)
def test_account_gets_its_burst_then_429_then_tokens_back_at_the_rate(live: Live) -> None:
    for _ in range(5):
        assert listing(live).json()["status"] == "success"
    refused = listing(live)
    assert_limited(refused, "account")
    assert refused.headers["Retry-After"] == "1"  # half a second, rounded up
    live.clock.advance(0.5)  # one token back
    assert listing(live).json()["status"] == "success"
    assert_limited(listing(live))
    live.clock.advance(60)  # refilled to the burst, not beyond
    assert [listing(live).status_code for _ in range(6)] == [200] * 5 + [429]


@limits(rate_limit_account_per_second=1.0, rate_limit_account_burst=2)
def test_every_limited_endpoint_draws_on_the_account_and_route_on_nothing(live: Live) -> None:
    assert live.set(m1=A, m2=B)["status"] == "success"
    assert listing(live).json()["status"] == "success"
    creds = {"userId": "acme", "token": live.client_token}
    for path in (SET, UNSET, MASKING_GET, MASKING_LIST, MASKLIST, DELIVERIES, SSID):
        body = {**creds, "m1": A, "m2": B, "maskingId": "x"} if path != SSID else creds
        assert_limited(post_from(live, X, path, body))
    assert_limited(post_from(live, X, MASKLIST, {**creds, "format": "csv"}))
    # The SIP proxy's lookups are never limited, by account or by address.
    for _ in range(10):
        answer = route_from(live, X, {"caller": A, "mask": DID0}, live.router_token).json()
        assert answer["action"] == "connect", answer


@limits(
    rate_limit_ip_per_second=1.0,
    rate_limit_ip_burst=1,
    rate_limit_account_per_second=1.0,
    rate_limit_account_burst=1,
)
def test_call_events_are_never_limited_by_address_or_account(live: Live) -> None:
    assert listing(live, X).json()["status"] == "success"
    assert_limited(listing(live, X), "address")  # X is out of tokens ...
    # ... yet the SIP proxy there posts every event it has: a refused one would be lost.
    for n in range(10):
        event = {"event": "failed", "callId": f"c{n}", "status": 486, "ts": 1767225601000}
        answer = event_from(live, X, event).json()
        assert answer["status"] == "success", answer
    assert count(live, "calls") == 10


@limits(rate_limit_ip_per_second=1.0, rate_limit_ip_burst=3)
def test_address_limit_is_per_address_and_spans_accounts(live: Live, other_token: str) -> None:
    assert [listing(live, X).status_code for _ in range(3)] == [200] * 3
    assert_limited(listing(live, X, "other-api", other_token), "address")
    # Refused before authentication: bad credentials from a limited address are not even checked.
    assert_limited(listing(live, X, "acme", "wrong"))
    assert listing(live, Y).json()["status"] == "success"
    assert listing(live, Y, "other-api", other_token).json()["status"] == "success"
    live.clock.advance(1.0)
    assert listing(live, X).json()["status"] == "success"


@limits(rate_limit_account_per_second=1.0, rate_limit_account_burst=3)
def test_account_limit_follows_the_account_across_addresses_and_users(
    live: Live, other_token: str
) -> None:
    second_user = add_user(live, "acme-ops", "acme")  # another user of the same account
    assert [listing(live, address).status_code for address in (X, Y, "192.0.2.1")] == [200] * 3
    assert_limited(listing(live, "192.0.2.2"), "account")
    assert_limited(listing(live, X, "acme-ops", second_user), "account")
    assert listing(live, X, "other-api", other_token).json()["status"] == "success"


@limits(rate_limit_ip_per_second=1.0, rate_limit_ip_burst=2)
def test_a_refused_request_changes_nothing(live: Live) -> None:
    for pair in ((A, B), (A, "+919812345679")):
        body = {"userId": "acme", "token": live.client_token, "m1": pair[0], "m2": pair[1]}
        assert post_from(live, X, SET, body).json()["status"] == "success"
    body = {"userId": "acme", "token": live.client_token, "m1": B, "m2": "+919812345679"}
    assert_limited(post_from(live, X, SET, body))
    listed = post_from(live, Y, MASKING_LIST, {"userId": "acme", "token": live.client_token})
    assert listed.json()["count"] == 2
