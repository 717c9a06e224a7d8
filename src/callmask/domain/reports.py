"""What a report or a query asks for (window, filters, page), and how its records are shown."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from callmask.domain import fields
from callmask.domain.calls import LAST_MS, CallRecord
from callmask.domain.errors import InvalidParameters
from callmask.domain.masking import MaskingRecord
from callmask.domain.numbers import E164, normalise
from callmask.domain.paging import DEFAULT_LIMIT, MAX_LIMIT, Cursor, Page

DEFAULT_WINDOW_MS = 24 * 3_600_000
MAX_WINDOW_DAYS = 31
MAX_WINDOW_MS = MAX_WINDOW_DAYS * 24 * 3_600_000
CALL_STATUSES = ("ringing", "answered", "completed", "failed")
# connect: a masked call; forward: an out-of-session caller sent to the account's fallback.
CALL_ACTIONS = ("connect", "forward")
MaskingStatus = Literal["active", "ended", "all"]

_MAX_TEXT = 255
# 0001-01-01T00:00:00Z: with calls.LAST_MS, the instants a report can show.
FIRST_MS = -62_135_596_800_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class CallQuery:
    """The masked calls of one account started in [start_ms, end_ms) matching every filter."""

    account_id: str
    start_ms: int
    end_ms: int
    page: Page = Page()
    mask: E164 | None = None
    party: E164 | None = None
    event_id: str | None = None
    masking_id: str | None = None
    statuses: tuple[str, ...] = ()
    min_duration_s: int | None = None
    max_duration_s: int | None = None
    actions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MaskingQuery:
    """The maskings of one account matching every filter; windows are [from, to)."""

    account_id: str
    now_ms: int
    page: Page = Page()
    status: MaskingStatus = "all"
    party: E164 | None = None
    mask: E164 | None = None
    event_id: str | None = None
    masking_id: str | None = None
    created_from_ms: int | None = None
    created_to_ms: int | None = None
    expiry_from_ms: int | None = None
    expiry_to_ms: int | None = None


# -- parsing client parameters ------------------------------------------------------------


def given(params: Mapping[str, Any], field: str) -> bool:
    return fields.given(params.get(field))


def instant(value: object, field: str) -> int:
    """Epoch ms from Unix seconds, Unix milliseconds (13+ digits) or ISO-8601 with an offset."""
    wrong = InvalidParameters(f"{field} must be a Unix time or ISO-8601 with an offset")
    if isinstance(value, str) and not fields.integer_text(value):
        # An offset can move a date in year 1 or 9999 out of those years in UTC.
        return _shown(fields.iso_ms(value, field, wrong), field)
    number = fields.integer(value, wrong)
    if abs(number) >= 10**16:
        raise InvalidParameters(f"{field} is out of range")
    return _shown(fields.epoch_ms(number), field)


def _shown(ms: int, field: str) -> int:
    if not FIRST_MS <= ms <= LAST_MS:
        raise InvalidParameters(f"{field} must fall in years 1 to 9999")
    return ms


def count(value: object, field: str, low: int, high: int) -> int:
    number = fields.integer(value, InvalidParameters(f"{field} must be an integer"))
    return fields.bounded(number, field, low, high)


def text(value: object, field: str) -> str:
    result = fields.string(value, field)
    if not result or len(result) > _MAX_TEXT:
        raise InvalidParameters(f"{field} must be 1 to {_MAX_TEXT} characters")
    return result


def choices(value: object, field: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    """One value, a comma-separated list, or a JSON array, each one of allowed."""
    items = value if isinstance(value, list) else str(value).split(",")
    picked = []
    for item in items:
        name = str(item).strip().lower()
        if name not in allowed:
            raise InvalidParameters(f"{field} must be among {', '.join(allowed)}")
        if name not in picked:
            picked.append(name)
    return tuple(picked)


def page(params: Mapping[str, Any]) -> Page:
    limit = count(params["limit"], "limit", 1, MAX_LIMIT) if given(params, "limit") else None
    after = Cursor.decode(params["cursor"]) if given(params, "cursor") else None
    order = choices(params["order"], "order", ("desc", "asc")) if given(params, "order") else ()
    if len(order) > 1:
        raise InvalidParameters("order must be desc or asc")
    return Page(limit or DEFAULT_LIMIT, after, order != ("asc",))


def export_format(params: Mapping[str, Any]) -> str:
    if not given(params, "format"):
        return "json"
    picked = choices(params["format"], "format", ("json", "csv"))
    if len(picked) > 1:
        raise InvalidParameters("format must be json or csv")
    return picked[0]


def _number(params: Mapping[str, Any], field: str, region: str) -> E164 | None:
    return normalise(params[field], field, region) if given(params, field) else None


def _text(params: Mapping[str, Any], field: str) -> str | None:
    return text(params[field], field) if given(params, field) else None


def _instant(params: Mapping[str, Any], field: str) -> int | None:
    return instant(params[field], field) if given(params, field) else None


def call_query(params: Mapping[str, Any], account_id: str, now_ms: int, region: str) -> CallQuery:
    """The report's window defaults to the 24 hours before now; it may span 31 days at most."""
    end_ms = _instant(params, "endTime")
    end_ms = now_ms if end_ms is None else end_ms
    start_ms = _instant(params, "startTime")
    start_ms = end_ms - DEFAULT_WINDOW_MS if start_ms is None else start_ms
    _shown(start_ms, "startTime")  # the default start of an endTime early in year 1
    if start_ms >= end_ms:
        raise InvalidParameters("startTime must be before endTime")
    if end_ms - start_ms > MAX_WINDOW_MS:
        raise InvalidParameters(f"the window may span at most {MAX_WINDOW_DAYS} days")
    low = (
        count(params["minDuration"], "minDuration", 0, 2**31 - 1)
        if given(params, "minDuration")
        else None
    )
    high = (
        count(params["maxDuration"], "maxDuration", 0, 2**31 - 1)
        if given(params, "maxDuration")
        else None
    )
    if low is not None and high is not None and low > high:
        raise InvalidParameters("minDuration must not exceed maxDuration")
    statuses = choices(params["status"], "status", CALL_STATUSES) if given(params, "status") else ()
    actions = choices(params["action"], "action", CALL_ACTIONS) if given(params, "action") else ()
    return CallQuery(
        account_id,
        start_ms,
        end_ms,
        page(params),
        mask=_number(params, "mask", region),
        party=_number(params, "party", region),
        event_id=_text(params, "eventId"),
        masking_id=_text(params, "maskingId"),
        statuses=statuses,
        min_duration_s=low,
        max_duration_s=high,
        actions=actions,
    )


def masking_query(
    params: Mapping[str, Any], account_id: str, now_ms: int, region: str
) -> MaskingQuery:
    status: MaskingStatus = "all"
    if given(params, "status"):
        picked = choices(params["status"], "status", ("active", "ended", "expired", "all"))
        if len(picked) > 1:
            raise InvalidParameters("status must be one of active, ended, expired, all")
        # "expired" is the word for every masking that no longer routes.
        status = "ended" if picked[0] == "expired" else picked[0]  # type: ignore[assignment]
    return MaskingQuery(
        account_id,
        now_ms,
        page(params),
        status=status,
        party=_number(params, "party", region),
        mask=_number(params, "mask", region),
        event_id=_text(params, "eventId"),
        masking_id=_text(params, "maskingId"),
        created_from_ms=_instant(params, "createdFrom"),
        created_to_ms=_instant(params, "createdTo"),
        expiry_from_ms=_instant(params, "expiryFrom"),
        expiry_to_ms=_instant(params, "expiryTo"),
    )


def masking_lookup(params: Mapping[str, Any], account_id: str, now_ms: int) -> MaskingQuery:
    """Masking/get: by maskingId or eventId (both: AND), newest first."""
    masking_id, event_id = _text(params, "maskingId"), _text(params, "eventId")
    if masking_id is None and event_id is None:
        raise InvalidParameters("give maskingId or eventId")
    return MaskingQuery(
        account_id, now_ms, Page(MAX_LIMIT), event_id=event_id, masking_id=masking_id
    )


# -- how records are shown ----------------------------------------------------------------


def iso(ms: int | None) -> str | None:
    """Epoch ms as ISO-8601 UTC with milliseconds: 2026-01-01T00:00:00.000Z.

    None for a time outside years 1 to 9999, which no such date shows: only a row stored
    before call events were refused such a ts can hold one, and it must not break a report.
    """
    if ms is None or not FIRST_MS <= ms <= LAST_MS:
        return None
    # Integer arithmetic: ms / 1000 as a float loses the last millisecond in year 9999.
    when = _EPOCH + timedelta(milliseconds=ms)
    return when.isoformat(timespec="milliseconds")[:-6] + "Z"


def _seconds(ms: int) -> int:
    return -(-ms // 1000)


def call_view(record: CallRecord) -> dict[str, Any]:
    """One call as the report and webhooks show it; the numbers are the account's own data."""
    return {
        "callId": record.call_id,
        "maskingId": record.masking_id,
        "eventId": record.event_id,
        "mask": record.mask,
        "caller": record.caller,
        "callee": record.callee,
        "startTime": iso(record.started_ms),
        "answerTime": iso(record.answered_ms),
        "endTime": iso(record.ended_ms),
        "duration": record.duration_s,
        "sipStatus": record.sip_status,
        "status": record.outcome,
        "endedBy": record.ended_by,
        "action": record.action or "connect",
    }


CSV_COLUMNS = (
    "callId",
    "maskingId",
    "eventId",
    "mask",
    "caller",
    "callee",
    "startTime",
    "answerTime",
    "endTime",
    "duration",
    "sipStatus",
    "status",
    "endedBy",
    "action",
)
# A cell starting with one of these is a formula (or the start of one) to a spreadsheet.
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
# The number columns keep their leading "+": a quote would change the number a reader copies.
# A "+" followed by digits only is a positive number to a spreadsheet, never a call, so it is
# safe as it is; anything else there is quoted like free text (docs/decisions.md, "CSV cells").
_NUMBER_COLUMNS = frozenset({"mask", "caller", "callee"})
_E164_CELL = re.compile(r"\+[0-9]{1,15}")


def _cell(column: str, value: object) -> str:
    if value is None:
        return ""
    cell = str(value)
    if not cell.startswith(_FORMULA):
        return cell
    if column in _NUMBER_COLUMNS and _E164_CELL.fullmatch(cell):
        return cell
    return "'" + cell


def csv_row(record: CallRecord) -> list[str]:
    """One call as a CSV row no spreadsheet runs: every text cell that could start a formula
    (callId, maskingId and eventId are chosen by callers and clients) starts with a quote."""
    view = call_view(record)
    return [_cell(column, view[column]) for column in CSV_COLUMNS]


def masking_view(record: MaskingRecord, now_ms: int) -> dict[str, Any]:
    """A masking as the queries and webhooks show it (times in Unix seconds, as expiry_time)."""
    m = record.masking
    ended = record.ended(now_ms)
    return {
        "maskingId": m.masking_id,
        "mask": m.mask,
        "m1": m.m1,
        "m2": m.m2,
        "eventId": m.event_id,
        "created_time": m.created_ms // 1000,
        "expiry_time": m.expiry_seconds,
        "callTimeLimit": m.call_time_limit,
        "record": None if m.record is None else bool(m.record),
        "status": "active" if ended is None else "ended",
        "ended_time": None if ended is None else _seconds(ended[0]),
        "endReason": None if ended is None else ended[1],
    }
