"""Fixtures of the SIP end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.sip_stack import Stack, sip_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """callmask and Kamailio on the shipped configuration, one per test module."""
    with sip_stack(tmp_path_factory.mktemp("sip")) as running:
        yield running
