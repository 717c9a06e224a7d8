from __future__ import annotations

import re

import orjson
import pytest

from callmask.domain.calls import CallEvent, parse_call_event
from callmask.domain.errors import InvalidParameters, InvalidRequestData, MaskingError
from callmask.domain.numbers import E164

TS = 1_767_225_600_123
START = {
    "event": "start",
    "callId": "a84b4c76e66710@pc33.example.com",
    "maskingId": "5f0c7e2a9b1d4e8f3a6c0b27",
    "mask": "+918040000000",
    "caller": "+919876543210",
    "callee": "+919812345678",
    "ts": TS,
}


def _raw(**fields: object) -> bytes:
    return orjson.dumps(fields)


def test_start_carries_the_masking_and_the_three_numbers() -> None:
    event = parse_call_event(orjson.dumps(START))
    assert event == CallEvent(
        "start",
        "a84b4c76e66710@pc33.example.com",
        TS,
        masking_id="5f0c7e2a9b1d4e8f3a6c0b27",
        mask=E164("+918040000000"),
        caller=E164("+919876543210"),
        callee=E164("+919812345678"),
        action="connect",
    )
    assert (event.outcome, event.started_ms, event.answered_ms, event.ended_ms) == (
        "ringing",
        TS,
        None,
        None,
    )


def test_start_without_an_action_is_a_connected_call_as_older_proxies_send_it() -> None:
    assert parse_call_event(orjson.dumps({**START, "action": "connect"})).action == "connect"
    assert parse_call_event(orjson.dumps(START)) == parse_call_event(
        orjson.dumps({**START, "action": "connect"})
    )


FORWARDED = {
    "event": "start",
    "callId": "f1@pc33",
    "maskingId": "",
    "mask": "+918040000000",
    "caller": "+919876543210",
    "callee": "+918012345678",
    "lookupUs": 310,
    "ts": TS,
    "action": "forward",
}


def test_a_forwarded_start_has_no_masking_and_names_the_did_and_the_fallback() -> None:
    event = parse_call_event(orjson.dumps(FORWARDED))
    assert event == CallEvent(
        "start",
        "f1@pc33",
        TS,
        masking_id=None,
        mask=E164("+918040000000"),
        caller=E164("+919876543210"),
        callee=E164("+918012345678"),
        action="forward",
    )
    assert event.outcome == "ringing"


def test_a_forwarded_start_from_a_withheld_number_has_no_caller() -> None:
    empty = {**FORWARDED, "caller": ""}
    absent = {key: value for key, value in FORWARDED.items() if key != "caller"}
    for raw in (empty, absent):
        event = parse_call_event(orjson.dumps(raw))
        assert (event.caller, event.action) == (None, "forward")


def test_a_forwarded_start_may_leave_the_masking_id_out() -> None:
    raw = {key: value for key, value in FORWARDED.items() if key != "maskingId"}
    assert parse_call_event(orjson.dumps(raw)).masking_id is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"action": "reject"}, "action"),
        ({"action": None}, "action"),
        ({"action": ""}, "action"),
        ({"action": "FORWARD"}, "action"),
        ({"maskingId": "5f0c7e2a9b1d4e8f3a6c0b27"}, "maskingId"),
        ({"maskingId": None}, "maskingId"),
        ({"caller": "anonymous"}, "caller"),
        ({"caller": None}, "caller"),
        ({"callee": ""}, "callee"),
        ({"mask": ""}, "mask"),
    ],
)
def test_malformed_forwarded_starts_raise_naming_the_field(
    change: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidParameters) as caught:
        parse_call_event(orjson.dumps({**FORWARDED, **change}))
    assert field in caught.value.detail


def test_answer_means_sip_200_at_its_timestamp() -> None:
    event = parse_call_event(_raw(event="answer", callId="c1", ts=TS))
    assert (event.outcome, event.sip_status, event.answered_ms, event.started_ms) == (
        "answered",
        200,
        TS,
        None,
    )


def test_end_carries_its_duration_and_implies_an_answered_call() -> None:
    event = parse_call_event(_raw(event="end", callId="c1", ts=TS, duration=42))
    assert (event.outcome, event.duration_s, event.sip_status, event.ended_ms) == (
        "completed",
        42,
        200,
        TS,
    )


def test_end_with_cause_limit_says_the_proxy_ended_it_at_its_time_limit() -> None:
    event = parse_call_event(_raw(event="end", callId="c1", ts=TS, duration=90, cause="limit"))
    assert (event.outcome, event.duration_s, event.ended_by) == ("completed", 90, "limit")


def test_end_without_cause_was_ended_by_a_party() -> None:
    assert parse_call_event(_raw(event="end", callId="c1", ts=TS, duration=9)).ended_by is None


def test_failed_carries_its_status_and_no_talk_time() -> None:
    event = parse_call_event(_raw(event="failed", callId="c1", ts=TS, status=486))
    assert (event.outcome, event.sip_status, event.duration_s, event.ended_ms) == (
        "failed",
        486,
        0,
        TS,
    )


def test_text_and_unknown_extra_fields_are_accepted() -> None:
    raw = orjson.dumps({**START, "via": "kamailio-2"}).decode()
    assert parse_call_event(raw).call_id == START["callId"]


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b'{"event": "start"', b"[1, 2]", b'"start"', b"\xff\xfe{}", b"null"],
)
def test_what_is_not_a_json_object_is_invalid_request_data(raw: bytes) -> None:
    with pytest.raises(InvalidRequestData):
        parse_call_event(raw)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"event": "ringing"}, "event"),
        ({"event": ["start"]}, "event"),
        ({"event": None}, "event"),
        ({"callId": None}, "callId"),
        ({"callId": ""}, "callId"),
        ({"callId": 42}, "callId"),
        ({"callId": "has space"}, "callId"),
        ({"callId": "nul\u0000byte"}, "callId"),
        ({"callId": "c" * 256}, "callId"),
        ({"ts": None}, "ts"),
        ({"ts": "1767225600123"}, "ts"),
        ({"ts": 1767225600123.5}, "ts"),
        ({"ts": True}, "ts"),
        ({"ts": 1767225600}, "ts"),  # seconds, not milliseconds
        ({"ts": 2**63}, "ts"),
        ({"ts": 2**53}, "ts"),  # year 287396: no report could show it
        ({"ts": 253_402_300_800_000}, "ts"),  # 10000-01-01T00:00:00Z
        ({"maskingId": None}, "maskingId"),
        ({"mask": "918040000000"}, "mask"),
        ({"caller": "09876543210"}, "caller"),
        ({"caller": 919876543210}, "caller"),
        ({"callee": "+91 98123 45678"}, "callee"),
        ({"callee": None}, "callee"),
    ],
)
def test_malformed_start_events_raise_naming_the_field(
    change: dict[str, object], field: str
) -> None:
    raw = orjson.dumps({**START, **change})
    with pytest.raises(InvalidParameters) as caught:
        parse_call_event(raw)
    assert field in caught.value.detail


def test_ts_may_be_as_late_as_the_last_millisecond_of_year_9999() -> None:
    event = parse_call_event(orjson.dumps({**START, "ts": 253_402_300_799_999}))
    assert event.ts_ms == 253_402_300_799_999


def test_ts_is_required() -> None:
    fields = {key: value for key, value in START.items() if key != "ts"}
    with pytest.raises(InvalidParameters, match="ts"):
        parse_call_event(orjson.dumps(fields))


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"event": "answer", "ts": TS}, "callId"),
        ({"event": "end", "callId": "c1", "ts": TS}, "duration"),
        ({"event": "end", "callId": "c1", "ts": TS, "duration": "42"}, "duration"),
        ({"event": "end", "callId": "c1", "ts": TS, "duration": 4.2}, "duration"),
        ({"event": "end", "callId": "c1", "ts": TS, "duration": -1}, "duration"),
        ({"event": "end", "callId": "c1", "ts": TS, "duration": 2**31}, "duration"),
        ({"event": "end", "callId": "c1", "ts": TS, "duration": 9, "cause": "LIMIT"}, "cause"),
        ({"event": "end", "callId": "c1", "ts": TS, "duration": 9, "cause": "bye"}, "cause"),
        ({"event": "end", "callId": "c1", "ts": TS, "duration": 9, "cause": ""}, "cause"),
        ({"event": "end", "callId": "c1", "ts": TS, "duration": 9, "cause": None}, "cause"),
        ({"event": "end", "callId": "c1", "ts": TS, "duration": 9, "cause": 1}, "cause"),
        ({"event": "end", "callId": "c1", "ts": TS, "duration": 9, "cause": ["limit"]}, "cause"),
        ({"event": "failed", "callId": "c1", "ts": TS}, "status"),
        ({"event": "failed", "callId": "c1", "ts": TS, "status": "486"}, "status"),
        ({"event": "failed", "callId": "c1", "ts": TS, "status": 200}, "status"),
        ({"event": "failed", "callId": "c1", "ts": TS, "status": 0}, "status"),
        ({"event": "failed", "callId": "c1", "ts": TS, "status": 700}, "status"),
    ],
)
def test_malformed_answer_end_and_failed_events_raise_naming_the_field(
    fields: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidParameters) as caught:
        parse_call_event(orjson.dumps(fields))
    assert field in caught.value.detail


def test_a_rejected_number_shows_only_its_last_four_digits() -> None:
    with pytest.raises(MaskingError) as caught:
        parse_call_event(orjson.dumps({**START, "caller": "09876543210"}))
    assert "3210" in caught.value.detail
    assert "987654" not in caught.value.detail


@pytest.mark.parametrize(
    "fields",
    [
        {"event": "answer", "callId": "c1", "ts": 1767225600},
        {"event": "answer", "callId": "c1", "ts": 2**60},
        {"event": "end", "callId": "c1", "ts": TS, "duration": -1},
        {"event": "end", "callId": "c1", "ts": TS, "duration": 2**31},
    ],
)
def test_an_out_of_range_time_is_refused_without_a_run_of_digits_a_log_would_flag(
    fields: dict[str, object],
) -> None:
    # Refusals are logged; "between 1000000000000 and 9007199254740992" reads as a number.
    with pytest.raises(InvalidParameters) as caught:
        parse_call_event(orjson.dumps(fields))
    assert not re.search(r"\d{7}", caught.value.detail), caught.value.detail
