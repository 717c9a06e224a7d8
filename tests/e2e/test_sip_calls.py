"""Real calls: sipp → Kamailio (the shipped configuration) → callmask → sipp."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e import sipp
from tests.e2e.sip_stack import Stack, free_udp_port, sip_stack

M1, M2, STRANGER = "+919876543210", "+919812345678", "+919700000001"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with sip_stack(tmp_path_factory.mktemp("sip")) as running:
        yield running


def call(
    stack: Stack, caller: str, callee: str, did: str, final: int = 200, answer: int | None = 200
) -> None:
    """Place one call; the callee side runs only when the call should reach it."""
    folder = stack.folder
    uas = None
    if answer is not None:
        uas = sipp.start(
            sipp.callee(callee, did, caller, final=answer),
            folder,
            "callee",
            stack.gateway_port,
            free_udp_port() & ~1,
        )
    uac = sipp.start(
        sipp.caller(caller, did, callee, final=final),
        folder,
        "caller",
        free_udp_port(),
        free_udp_port() & ~1,
        remote=f"127.0.0.1:{stack.sip_port}",
    )
    caller_status = uac.wait()
    callee_status = uas.wait() if uas is not None else 0
    assert caller_status == 0, uac.errors()
    assert callee_status == 0, uas.errors() if uas else ""


def test_m1_calling_the_did_reaches_m2_who_sees_only_the_did(stack: Stack) -> None:
    did = str(stack.masking(M1, M2)["mask"])
    call(stack, M1, M2, did)
