"""Phone numbers never reach the server's logs in full, whatever path a request takes."""

from __future__ import annotations

import logging

import pytest

from tests.support import DID0, SET, A, B, C, Live, database


def test_logs_show_only_the_last_four_digits_of_numbers(
    live: Live, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    live.set(m1=A, m2=B, eventId="e-1")
    live.route(A, DID0)
    live.route(C, DID0)
    live.unset(m1=A, m2=B)
    live.post(SET, content=b'{"m1": ' + A.encode() + b",")  # unparsable
    with database(live) as conn:
        conn.execute(
            "CREATE TRIGGER boom BEFORE INSERT ON maskings"
            " BEGIN SELECT RAISE(ABORT, 'disk says no'); END"
        )
    live.set(m1=A, m2=C)  # 1504, logged as a warning

    # The test's own httpx logs its URLs; only what the server wrote counts here.
    server = [r for r in caplog.records if r.name.startswith(("callmask", "uvicorn", "starlette"))]
    written = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in server)
    assert "…3210" in written, written
    assert any(r.levelno == logging.WARNING for r in server), written
    for number in (A, B, C):
        assert number[3:] not in written, number
