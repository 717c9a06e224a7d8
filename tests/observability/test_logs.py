"""JSON log lines with the request id; phone numbers only by their last four digits."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from callmask import logs
from tests.e2e.servers import stop, wait_until_up
from tests.support import CALL_EVENT, Live, free_port

A, B = "+919812345670", "+919812345671"
SET = "/api/v2/Masking/set"


@pytest.fixture
def lines(live: Live) -> Iterator[io.StringIO]:
    """What the server logs while the test runs, as the production handler writes it."""
    out = io.StringIO()
    handler = logs.handler("json", out)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield out
    finally:
        root.removeHandler(handler)


def records(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("callmask.test", logging.INFO, __file__, 1, message, args, None)
    made.__dict__.update(extra)
    return made


def test_redact_digits_keeps_the_last_four_of_every_long_digit_run() -> None:
    assert logs.redact_digits("caller +919876543210 mask 918040000000") == (
        "caller …3210 mask …0000"
    )
    assert logs.redact_digits("GET /route?caller=%2B919876543210") == "GET /route?caller=…3210"
    assert logs.redact_digits("a 1234567 b") == "a …4567 b"
    # Not numbers: short runs, hex ids, fractions, dates.
    for text in ("count 123456", "id 3f2c1234567890ab", "took 0.12345678s", "2026-01-01T00:00"):
        assert logs.redact_digits(text) == text


def test_the_safety_filter_masks_messages_exceptions_and_extra_fields() -> None:
    made = record("set for %s", A, note=f"party {B}")
    try:
        raise ValueError(f"duplicate key ({A})")
    except ValueError:
        made.exc_info = sys.exc_info()
    assert logs.RedactNumbers().filter(made)
    line = json.loads(logs.JsonFormatter().format(made))
    assert line["message"] == "set for …5670"
    assert line["note"] == "party …5671"
    assert "duplicate key (…5670)" in line["exception"]
    assert A[1:] not in json.dumps(line) and B[1:] not in json.dumps(line)


def test_a_json_line_has_time_level_logger_message_request_id_and_extras() -> None:
    made = record("hello %s", "world", endpoint="/x", status=200)
    token = logs.request_id.set("req-1")
    try:
        logs.RequestIdFilter().filter(made)
    finally:
        logs.request_id.reset(token)
    line = json.loads(logs.JsonFormatter().format(made))
    assert line["level"] == "INFO" and line["logger"] == "callmask.test"
    assert line["message"] == "hello world" and line["request_id"] == "req-1"
    assert line["endpoint"] == "/x" and line["status"] == 200
    assert line["time"].endswith("Z") and line["time"][10] == "T"


def test_the_text_format_has_the_request_id_and_extras_on_one_line() -> None:
    made = record("hello", endpoint="/x")
    made.request_id = "req-2"
    text = logs.TextFormatter().format(made)
    assert "INFO callmask.test hello [req-2] endpoint=/x" in text and "\n" not in text


def test_an_incoming_request_id_is_kept_only_when_it_looks_like_one() -> None:
    assert logs.accepted_request_id("3f2c-41aa.b:9") == "3f2c-41aa.b:9"
    for bad in ("", "a b", "x" * 129, "919876543210", "id\n"):
        assert logs.accepted_request_id(bad) is None
    assert len(logs.new_request_id()) == 16


def test_each_request_logs_one_access_line_and_carries_its_id_into_every_record(
    live: Live, lines: io.StringIO
) -> None:
    response = live.post(
        SET, json=live.auth(m1=A, m2=B, eventId="e-1"), headers={"X-Request-Id": "order-42.1"}
    )
    assert response.json()["code"] == 200
    assert response.headers["x-request-id"] == "order-42.1"
    mine = [line for line in records(lines) if line["request_id"] == "order-42.1"]
    service = [line for line in mine if line["logger"] == "callmask.service"]
    access = [line for line in mine if line["logger"] == "callmask.access"]
    assert len(service) == 1 and "…5670" in str(service[0]["message"])
    assert len(access) == 1
    assert access[0]["level"] == "INFO"
    assert {k: access[0][k] for k in ("method", "endpoint", "status", "code")} == {
        "method": "POST",
        "endpoint": SET,
        "status": 200,
        "code": "200",
    }
    assert isinstance(access[0]["duration_ms"], float)
    assert A[1:] not in lines.getvalue() and B[1:] not in lines.getvalue()


def test_a_request_without_a_usable_id_gets_a_fresh_one(live: Live, lines: io.StringIO) -> None:
    first = live.route(A, live.pool[0])
    assert first["action"] == "reject"
    plain = live.get("/healthz")
    carrying_a_number = live.get("/healthz", headers={"X-Request-Id": "919876543210"})
    ids = {plain.headers["x-request-id"], carrying_a_number.headers["x-request-id"]}
    assert len(ids) == 2 and all(len(i) == 16 for i in ids)
    assert "919876543210" not in lines.getvalue()
    # A route lookup carries both numbers in its query string; the access line has neither.
    route = [line for line in records(lines) if line.get("endpoint") == "/api/v2/Masking/route"]
    assert route and A[4:] not in json.dumps(route)


SPELLED = ("98765-43210", "98.76.54.32.10", "+91:98765:43210", "(987) 654-3210", "98 76 54 32 10")


def test_a_request_id_spelling_a_number_with_separators_is_replaced(
    live: Live, lines: io.StringIO
) -> None:
    for sent in (*SPELLED, "a" * 65, "id with spaces", "id/slash"):
        response = live.get("/healthz", headers={"X-Request-Id": sent})
        given = response.headers["x-request-id"]
        assert given != sent and len(given) == 16, sent
    # An id of the fixed charset and length is kept, a UUID or a trace id among them.
    for kept in ("order-42.1", "3f2c-41aa.b:9", "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "a" * 64):
        assert live.get("/healthz", headers={"X-Request-Id": kept}).headers["x-request-id"] == kept
    ours = [line for line in records(lines) if str(line["logger"]).startswith("callmask")]
    for number in SPELLED:
        assert number not in json.dumps(ours), number


def test_an_unmatched_path_is_logged_with_numbers_cut_to_their_last_four(
    live: Live, lines: io.StringIO
) -> None:
    for number in SPELLED:
        assert live.get(f"/nowhere/{number}/x").status_code == 404
    access = [line for line in records(lines) if line["logger"] == "callmask.access"]
    assert [line["endpoint"] for line in access] == ["/nowhere/…3210/x"] * len(SPELLED)
    assert all("…3210" in str(line["message"]) for line in access)


def test_the_sip_proxys_lookups_and_events_are_logged_at_debug_the_rest_at_info(
    live: Live, lines: io.StringIO
) -> None:
    bearer = {"Authorization": f"Bearer {live.router_token}"}
    live.route(A, live.pool[0])
    event = {"event": "answer", "callId": "c1", "ts": 1767225601000}
    assert live.post(CALL_EVENT, json=event, headers=bearer).json()["status"] == "success"
    assert live.post("/api/v2/Masking/list", json=live.auth()).json()["status"] == "success"
    levels = {
        str(line["endpoint"]): line["level"]
        for line in records(lines)
        if line["logger"] == "callmask.access"
    }
    assert levels == {
        "/api/v2/Masking/route": "DEBUG",
        CALL_EVENT: "DEBUG",
        "/api/v2/Masking/list": "INFO",
    }


def test_an_unknown_path_is_logged_with_its_numbers_masked(live: Live, lines: io.StringIO) -> None:
    assert live.get(f"/api/v2/{A}").status_code == 404
    [access] = [line for line in records(lines) if line["logger"] == "callmask.access"]
    assert access["endpoint"] == "/api/v2/…5670" and access["code"] == "1000"


def test_configure_installs_one_handler_and_can_leave_an_existing_set_up_alone() -> None:
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    try:
        out = io.StringIO()
        logs.configure("INFO", "json", out)
        logs.configure("INFO", "json", out)
        ours = [h for h in root.handlers if getattr(h, "_callmask", False)]
        assert len(ours) == 1 and root.level == logging.INFO
        logs.configure("DEBUG", "text", io.StringIO(), unless_configured=True)
        assert root.level == logging.INFO  # handlers were there: left alone
        logs.configure("INFO", "text", io.StringIO(), access_log=False)
        assert not logging.getLogger("callmask.access").isEnabledFor(logging.INFO)
        with pytest.raises(ValueError):
            logs.configure("INFO", "yaml")
    finally:
        root.handlers[:] = before
        root.setLevel(level)
        logging.getLogger("callmask.access").setLevel(logging.NOTSET)


def test_serve_writes_json_lines_for_its_own_and_uvicorns_records(tmp_path: Path) -> None:
    port = free_port()
    with (tmp_path / "stderr").open("w+") as err:
        written = _serve_once(tmp_path, port, err)
    assert any(line["logger"].startswith("uvicorn") for line in written), written
    [access] = [line for line in written if line.get("request_id") == "probe-1"]
    assert access["logger"] == "callmask.access" and access["status"] == 404
    assert A[1:] not in json.dumps(written)


def _serve_once(tmp_path: Path, port: int, err: IO[str]) -> list[dict[str, Any]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "callmask.cli", "serve", "--port", str(port)],
        env={
            **os.environ,
            "CALLMASK_DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}",
            "CALLMASK_LOG_LEVEL": "INFO",
        },
        stderr=err,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url)
        httpx.get(url + f"/nowhere/{A}", headers={"X-Request-Id": "probe-1"})
    finally:
        stop(process, grace_s=20)
    err.seek(0)
    return [json.loads(line) for line in err.read().splitlines()]
