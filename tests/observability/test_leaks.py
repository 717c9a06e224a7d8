"""The run-wide log check (leaks.py) catches a full number on any path, and only numbers."""

from __future__ import annotations

import io
import logging

import pytest

from callmask import logs
from tests.observability.leaks import LeakDetector, full_numbers

A = "+919812345670"


def test_a_full_number_logged_anywhere_fails_the_run(log_leaks: LeakDetector) -> None:
    with log_leaks.expected() as caught:
        # Straight to a logger, at DEBUG, nothing redacting it on the way.
        logging.getLogger("callmask.service").debug("masking set parties=%s", A)
    assert len(caught) == 1 and A in caught[0]


def test_the_safety_filter_does_not_hide_a_leak_from_the_check(log_leaks: LeakDetector) -> None:
    out = io.StringIO()
    handler = logs.handler("json", out)
    probe = logging.getLogger("callmask.leaky")
    probe.addHandler(handler)
    try:
        with log_leaks.expected() as caught:
            probe.warning("party %s", A)
    finally:
        probe.removeHandler(handler)
    assert "…5670" in out.getvalue() and A not in out.getvalue()  # what production writes
    assert caught, "the check sees what the code passed, before the filter"


def test_numbers_in_tracebacks_extras_and_non_propagating_loggers_are_caught(
    log_leaks: LeakDetector,
) -> None:
    quiet = logging.getLogger("uvicorn.error.leaky")
    quiet.propagate = False
    try:
        with log_leaks.expected() as caught:
            try:
                raise ValueError(f"Key (party)=({A}) already exists")
            except ValueError:
                logging.getLogger("callmask.x").exception("insert failed")
            logging.getLogger("callmask.x").info("ok", extra={"party": "919812345670"})
            quiet.error("url /route?caller=%s", "%2B919812345670")
    finally:
        quiet.propagate = True
    assert len(caught) == 3, caught


@pytest.mark.parametrize(
    "text",
    [
        "+919812345670",
        "919812345670",
        "caller=%2B919812345670&x=1",
        "+91 98123 45670",
        "(981) 234-5670 ext",
        "09812345670",
    ],
)
def test_the_check_knows_a_number(text: str) -> None:
    assert full_numbers(text), text


@pytest.mark.parametrize(
    "text",
    [
        "…5670 and …0000",
        "expiry_time 1767225600 at 1767225600000 ms",
        "2026-01-01 10:00:00,123",
        "masking 3f2c1234567890abcd1234ef",
        "event 12345678-9abc-4def-8123-456789012345",
        "took 0.123456789 s",
        "applied migrations [1, 2, 3, 4, 5, 6, 7, 8]",
        "1234567",
    ],
)
def test_the_check_leaves_what_is_not_a_number(text: str) -> None:
    assert full_numbers(text) == [], text


def test_redacted_server_logs_pass_the_check() -> None:
    made = logging.LogRecord("callmask.t", logging.INFO, __file__, 1, "set %s", (A,), None)
    made.party = A
    logs.RedactNumbers().filter(made)
    detector = LeakDetector()
    detector.check(made)
    assert detector.leaks == []
