from __future__ import annotations

from tests.conftest import Live


def test_set_then_route_connects_both_directions(live: Live) -> None:
    answer = live.set(m1=919876543210, m2="+91 98123 45678")
    assert answer["status"] == "success", answer
    mask = str(answer["mask"])
    forward = live.route("+919876543210", mask)
    assert forward["action"] == "connect" and forward["to"] == "+919812345678"
    backward = live.route("+919812345678", mask)
    assert backward["action"] == "connect" and backward["to"] == "+919876543210"
