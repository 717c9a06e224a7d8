"""A router's token routes calls and does nothing else; a client's token cannot route."""

from __future__ import annotations

import pytest

from callmask.domain.errors import Code
from tests.support import (
    DELIVERIES,
    DID0,
    MASKING_GET,
    MASKING_LIST,
    MASKLIST,
    ROUTE,
    SET,
    SSID,
    UNSET,
    A,
    B,
    Live,
    assert_error,
    count,
)

ACCOUNT_ENDPOINTS = [
    (SET, {"m1": A, "m2": B}),
    (UNSET, {"m1": A}),
    (MASKING_GET, {"eventId": "order-1"}),
    (MASKING_LIST, {}),
    (MASKLIST, {}),
    (MASKLIST, {"format": "csv"}),
    (DELIVERIES, {}),
    (SSID, {}),
]


@pytest.mark.parametrize(("path", "params"), ACCOUNT_ENDPOINTS)
def test_a_router_token_is_refused_1015_on_every_account_endpoint(
    live: Live, path: str, params: dict[str, object]
) -> None:
    assert live.set(m1=A, m2=B, eventId="order-1")["status"] == "success"
    response = live.post(path, json={"userId": "sip", "token": live.router_token, **params})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert_error(response.json(), Code.PERMISSION_DENIED)
    assert count(live, "maskings") == 1
    assert count(live, "sessions") == 0


def test_a_router_token_routes(live: Live) -> None:
    assert live.set(m1=A, m2=B)["status"] == "success"
    assert live.route(A, DID0)["action"] == "connect"
    query = {"caller": A, "mask": DID0, "userId": "sip", "token": live.router_token}
    assert live.get(ROUTE, params=query).json()["action"] == "connect"


def test_a_client_token_cannot_route_in_any_form(live: Live) -> None:
    assert live.set(m1=A, m2=B)["status"] == "success"
    query = {"caller": A, "mask": DID0}
    ssid = live.post(SSID, json=live.auth()).json()["ssid"]
    answers = [
        live.get(ROUTE, params=query, headers={"Authorization": f"Bearer {live.client_token}"}),
        live.get(ROUTE, params={**query, "userId": "acme", "token": live.client_token}),
        live.post(ROUTE, json={**query, "userId": "acme", "token": live.client_token}),
        live.get(ROUTE, params={**query, "ssid": ssid}),
    ]
    for answer in answers:
        assert_error(answer.json(), Code.PERMISSION_DENIED, "router")
