"""Whose address a request comes from, and a lockout that cannot stop call routing."""

from __future__ import annotations

import pytest

from callmask.domain.errors import Code
from tests.support import (
    CALL_EVENT,
    DID0,
    MASKING_LIST,
    ROUTE,
    A,
    B,
    Live,
    assert_limited,
    post_from,
    route_from,
)

# The router's address as its proxy forwards it, and an attacker's elsewhere.
R, X = "198.51.100.20", "203.0.113.66"
LOCK = {"auth_fail_limit_ip": 2, "auth_fail_window_seconds": 60, "trusted_proxies": ""}
TRUSTING_LOOPBACK = {**LOCK, "trusted_proxies": "127.0.0.1"}


def fail(live: Live, address: str, times: int = 2) -> None:
    for _ in range(times):
        answer = post_from(live, address, MASKING_LIST, {"userId": "nobody", "token": "guess"})
        assert answer.json()["code"] == Code.INVALID_TOKEN, answer.text


def listing_from(live: Live, address: str) -> dict[str, object]:
    body = {"userId": "acme", "token": live.client_token}
    answer: dict[str, object] = post_from(live, address, MASKING_LIST, body).json()
    return answer


@pytest.mark.parametrize("settings", [LOCK], indirect=True, ids=["no-trusted-proxies"])
def test_forwarded_for_from_a_peer_not_listed_is_ignored(live: Live) -> None:
    # By default no peer is a proxy: a forwarded address is a claim anyone can make, so the
    # failures count against the peer itself, whatever address each request claims.
    fail(live, "192.0.2.1", times=1)
    fail(live, "192.0.2.2", times=1)
    assert_limited(post_from(live, "192.0.2.3", MASKING_LIST, live.auth()), "address")
    assert_limited(live.post(MASKING_LIST, json=live.auth()), "address")


@pytest.mark.parametrize("settings", [TRUSTING_LOOPBACK], indirect=True, ids=["trusted"])
def test_forwarded_for_from_a_listed_proxy_names_the_client(live: Live) -> None:
    fail(live, X)
    assert_limited(post_from(live, X, MASKING_LIST, live.auth()), "address")
    assert listing_from(live, R)["status"] == "success"
    # The client is the last hop the proxy did not forward for itself: an address the client
    # wrote first in the header is not believed.
    chained = live.post(MASKING_LIST, json=live.auth(), headers={"X-Forwarded-For": f"{R}, {X}"})
    assert_limited(chained, "address")
    assert live.post(MASKING_LIST, json=live.auth()).json()["status"] == "success"


@pytest.mark.parametrize(
    "settings", [LOCK, TRUSTING_LOOPBACK], indirect=True, ids=["no-trusted-proxies", "trusted"]
)
def test_a_lockout_never_stops_a_routers_lookups_from_where_it_authenticated(live: Live) -> None:
    assert live.set(m1=A, m2=B)["status"] == "success"
    query = {"caller": A, "mask": DID0}
    by_query = {**query, "userId": "sip", "token": live.router_token}
    assert route_from(live, R, query, live.router_token).json()["action"] == "connect"
    # An attacker sends bad credentials claiming to be the router's address.
    fail(live, R)
    assert route_from(live, R, query, live.router_token).json()["action"] == "connect"
    assert route_from(live, R, by_query).json()["action"] == "connect"
    post = live.post(ROUTE, json=by_query, headers={"X-Forwarded-For": R})
    assert post.json()["action"] == "connect"
    event = {"event": "answer", "callId": "c1", "ts": 1767225601000}
    headers = {"X-Forwarded-For": R, "Authorization": f"Bearer {live.router_token}"}
    assert live.post(CALL_EVENT, json=event, headers=headers).json()["status"] == "success"
    # The address stays locked for everything else: other credentials, a client's, guesses.
    assert_limited(route_from(live, R, query, "forged-bearer"), "address")
    assert_limited(route_from(live, R, {**query, "userId": "sip", "token": "guess"}))
    assert_limited(post_from(live, R, MASKING_LIST, live.auth()), "address")
