"""The client address a request is counted under (guard.Addresses), without a server."""

from __future__ import annotations

from typing import Any

from callmask.config import proxy_networks
from callmask.http.guard import Addresses


def scope(peer: str, *forwarded: str) -> dict[str, Any]:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return {"client": (peer, 50000), "headers": headers}


def test_with_no_trusted_proxy_the_peer_is_the_client_whatever_the_header() -> None:
    assert Addresses(proxy_networks("")).of(scope("127.0.0.1", "198.51.100.7")) == "127.0.0.1"


def test_a_listed_proxys_nearest_untrusted_hop_is_the_client() -> None:
    addresses = Addresses(proxy_networks("10.0.0.0/8, ::1"))
    assert addresses.of(scope("10.1.2.3", "198.51.100.7")) == "198.51.100.7"
    # The client's own claim (left) is passed over; proxies in the chain are skipped.
    assert addresses.of(scope("10.1.2.3", "192.0.2.1, 198.51.100.7, 10.9.9.9")) == "198.51.100.7"
    assert addresses.of(scope("10.1.2.3", "192.0.2.1", "198.51.100.7:4711")) == "198.51.100.7"
    assert addresses.of(scope("::1", "[2001:db8::7]:443")) == "2001:db8::7"
    # Only proxies in the header: the farthest; none: the proxy itself.
    assert addresses.of(scope("10.1.2.3", "10.0.0.9, 10.0.0.8")) == "10.0.0.9"
    assert addresses.of(scope("10.1.2.3")) == "10.1.2.3"
    # Not an address: no client named, and a made-up string is no key to count under.
    assert addresses.of(scope("10.1.2.3", "98765-43210")) == "10.1.2.3"
    # A peer that is not listed is the client, though it sends the header.
    assert addresses.of(scope("192.0.2.50", "198.51.100.7")) == "192.0.2.50"
