from __future__ import annotations

import pytest

from callmask.domain.calls import CallRecord
from callmask.domain.errors import InvalidParameters
from callmask.domain.masking import Masking, MaskingRecord
from callmask.domain.numbers import E164
from callmask.domain.paging import MAX_LIMIT, Cursor, Page
from callmask.domain.reports import (
    DEFAULT_WINDOW_MS,
    MAX_WINDOW_MS,
    call_query,
    call_view,
    csv_row,
    export_format,
    iso,
    masking_lookup,
    masking_query,
    masking_view,
)

NOW = 1_767_225_600_000  # 2026-01-01T00:00:00Z
A, X = E164("+919876543210"), E164("+918040000000")


def _query(**params: object):  # type: ignore[no-untyped-def]
    return call_query(params, "acme", NOW, "IN")


def test_the_window_defaults_to_the_24_hours_before_now() -> None:
    query = _query()
    assert (query.start_ms, query.end_ms) == (NOW - DEFAULT_WINDOW_MS, NOW)
    assert query.page == Page()


def test_window_accepts_seconds_milliseconds_and_iso_with_offset() -> None:
    query = _query(startTime=1767139200, endTime="2026-01-01T05:30:00+05:30")
    assert (query.start_ms, query.end_ms) == (1767139200000, NOW)
    assert _query(startTime=str(NOW - 1000), endTime=NOW).start_ms == NOW - 1000


def test_a_window_wider_than_31_days_or_backwards_is_1000() -> None:
    _query(startTime=NOW - MAX_WINDOW_MS, endTime=NOW)
    with pytest.raises(InvalidParameters, match="31 days"):
        _query(startTime=NOW - MAX_WINDOW_MS - 1, endTime=NOW)
    with pytest.raises(InvalidParameters, match="before endTime"):
        _query(startTime=NOW, endTime=NOW)
    with pytest.raises(InvalidParameters, match="UTC offset"):
        _query(startTime="2026-01-01T00:00:00")
    with pytest.raises(InvalidParameters, match="startTime"):
        _query(startTime="yesterday")


def test_number_filters_take_the_spellings_set_takes() -> None:
    query = _query(party="09876543210", mask=918040000000)
    assert (query.party, query.mask) == (A, X)
    with pytest.raises(InvalidParameters, match="party"):
        _query(party="12ab")


def test_status_and_durations_are_checked() -> None:
    query = _query(status="Completed,failed", minDuration="5", maxDuration=60)
    assert (query.statuses, query.min_duration_s, query.max_duration_s) == (
        ("completed", "failed"),
        5,
        60,
    )
    assert _query(status=["ringing"]).statuses == ("ringing",)
    with pytest.raises(InvalidParameters, match="status"):
        _query(status="busy")
    with pytest.raises(InvalidParameters, match="minDuration"):
        _query(minDuration=9, maxDuration=3)
    with pytest.raises(InvalidParameters, match="minDuration"):
        _query(minDuration=1.5)


def test_the_action_filter_takes_connect_and_forward() -> None:
    assert _query(action="Forward").actions == ("forward",)
    assert _query(action=["connect", "forward"]).actions == ("connect", "forward")
    assert _query().actions == ()
    with pytest.raises(InvalidParameters, match="action"):
        _query(action="reject")


def test_a_call_recorded_before_the_proxy_said_its_action_shows_as_connect() -> None:
    record = CallRecord(
        "c1", "acme", "mk", None, X, A, A, NOW, None, None, None, None, "ringing", 0
    )
    assert call_view(record)["action"] == "connect"
    forwarded = CallRecord(
        "c2",
        "acme",
        None,
        None,
        X,
        None,
        A,
        NOW,
        None,
        None,
        None,
        None,
        "ringing",
        0,
        action="forward",
    )
    view = call_view(forwarded)
    assert (view["action"], view["maskingId"], view["caller"]) == ("forward", None, None)
    assert csv_row(forwarded)[-1] == "forward" and csv_row(forwarded)[1] == ""


YEAR_10000_S = 253_402_300_800  # 10000-01-01T00:00:00Z


@pytest.mark.parametrize(
    "window",
    [
        {"endTime": YEAR_10000_S},
        {"startTime": YEAR_10000_S - 60, "endTime": YEAR_10000_S + 60},
        {"startTime": 10**16 - 1},
        {"startTime": "9999-12-31T23:00:00-02:00", "endTime": "9999-12-31T23:30:00-02:00"},
        {"startTime": "0001-01-01T00:00:00+01:00", "endTime": "0001-01-02T00:00:00Z"},
        {"endTime": "0001-01-01T00:00:00Z"},  # the default start is the day before
        {"startTime": -62_135_596_801, "endTime": -62_135_596_700},
    ],
)
def test_a_window_outside_years_1_to_9999_is_1000(window: dict[str, object]) -> None:
    with pytest.raises(InvalidParameters, match="years 1 to 9999"):
        _query(**window)


def test_a_window_may_reach_the_last_millisecond_of_year_9999() -> None:
    query = _query(startTime="9999-12-31T00:00:00Z", endTime=YEAR_10000_S * 1000 - 1)
    assert iso(query.end_ms) == "9999-12-31T23:59:59.999Z"


@pytest.mark.parametrize("field", ["createdFrom", "createdTo", "expiryFrom", "expiryTo"])
def test_masking_query_instants_outside_years_1_to_9999_are_1000(field: str) -> None:
    with pytest.raises(InvalidParameters, match=f"{field} must fall in years 1 to 9999"):
        masking_query({field: YEAR_10000_S}, "acme", NOW, "IN")


def test_a_time_no_iso_8601_date_can_show_is_shown_as_unknown() -> None:
    # Only a row stored before ingestion refused such times can hold one.
    assert iso(2**53) is None and iso(-(2**53)) is None
    record = CallRecord(
        "c1", "acme", "mk", "e", X, A, A, NOW, NOW + 1, 2**53, 1, 200, "completed", 0
    )
    assert call_view(record)["endTime"] is None and csv_row(record)[8] == ""


def test_limit_order_and_cursor_make_the_page() -> None:
    after = Cursor(NOW - 5, "call:7")
    query = _query(limit="20", order="asc", cursor=after.encode())
    assert query.page == Page(20, after, descending=False)
    for bad in (0, MAX_LIMIT + 1, "many"):
        with pytest.raises(InvalidParameters, match="limit"):
            _query(limit=bad)


@pytest.mark.parametrize("text", ["", "!!", "bm90LWEtY3Vyc29y", 42])
def test_a_cursor_that_was_not_made_here_is_1000(text: object) -> None:
    with pytest.raises(InvalidParameters, match="cursor"):
        Cursor.decode(text)


def test_cursor_round_trips_ids_with_any_visible_characters() -> None:
    cursor = Cursor(NOW, "a:b/c=d@host")
    assert Cursor.decode(cursor.encode()) == cursor


def test_format_is_json_unless_csv() -> None:
    assert export_format({}) == "json"
    assert export_format({"format": "CSV"}) == "csv"
    with pytest.raises(InvalidParameters, match="format"):
        export_format({"format": "xlsx"})


def test_masking_query_status_accepts_expired_as_ended() -> None:
    assert masking_query({"status": "expired"}, "acme", NOW, "IN").status == "ended"
    assert masking_query({}, "acme", NOW, "IN").status == "all"
    with pytest.raises(InvalidParameters, match="status"):
        masking_query({"status": "active,ended"}, "acme", NOW, "IN")


def test_masking_get_needs_a_masking_id_or_event_id() -> None:
    assert masking_lookup({"eventId": "order-1"}, "acme", NOW).event_id == "order-1"
    with pytest.raises(InvalidParameters, match="maskingId or eventId"):
        masking_lookup({"m1": A}, "acme", NOW)


def test_iso_is_utc_with_milliseconds() -> None:
    assert iso(NOW + 7) == "2026-01-01T00:00:00.007Z"
    assert iso(None) is None


def test_csv_cells_that_a_spreadsheet_would_run_as_formulas_are_quoted() -> None:
    record = CallRecord(
        "c1", "acme", "mk", "=HYPERLINK(1)", X, A, A, NOW, None, None, None, None, "ringing", 0
    )
    row = csv_row(record)
    assert row[2] == "'=HYPERLINK(1)"
    assert row[3:5] == [X, A] and row[6] == "2026-01-01T00:00:00.000Z" and row[7] == ""


@pytest.mark.parametrize("lead", ["=", "+", "-", "@", "\t", "\r"])
def test_no_free_text_csv_cell_can_start_a_formula(lead: str) -> None:
    text = lead + 'HYPERLINK("http://x")'
    record = CallRecord(
        text + "@host", "acme", text, text, X, A, A, NOW, None, None, None, None, "ringing", 0
    )
    row = csv_row(record)
    assert row[:3] == ["'" + text + "@host", "'" + text, "'" + text]


def test_csv_keeps_e164_numbers_as_they_are_and_quotes_anything_else_there() -> None:
    odd = E164("+1+SUM(A1)")  # never made by the parser; stored by a bug or by hand
    record = CallRecord(
        "c1", "acme", "mk", "e", X, odd, E164("-1"), NOW, None, None, None, None, "ringing", 0
    )
    assert csv_row(record)[3:6] == [X, "'+1+SUM(A1)", "'-1"]


def test_a_lapsed_masking_shows_ended_at_its_expiry_even_unswept() -> None:
    masking = Masking("mk", "acme", A, E164("+919812345678"), X, None, NOW, NOW + 60_500)
    live = masking_view(MaskingRecord(masking), NOW)
    assert (live["status"], live["ended_time"], live["expiry_time"]) == (
        "active",
        None,
        NOW // 1000 + 61,
    )
    lapsed = masking_view(MaskingRecord(masking), NOW + 60_500)
    assert (lapsed["status"], lapsed["endReason"], lapsed["ended_time"]) == (
        "ended",
        "expired",
        NOW // 1000 + 61,
    )
    unset = masking_view(MaskingRecord(masking, NOW + 1000, "unset"), NOW + 60_500)
    assert (unset["endReason"], unset["ended_time"]) == ("unset", NOW // 1000 + 1)
