"""Call events the SIP proxy reports, and the record of a call they add up to."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from callmask.domain import fields
from callmask.domain.errors import InvalidParameters, InvalidRequestData
from callmask.domain.numbers import E164, redact
from callmask.domain.recordings import Started

EventKind = Literal["start", "answer", "end", "failed", "recording"]
Outcome = Literal["ringing", "answered", "completed", "failed"]
# Why the proxy ended a call, when it was not one of the parties hanging up: "limit", its
# time limit ran out.
EndedBy = Literal["limit"]
# How the proxy handled the call (its start event says): connected the masking's parties, or
# forwarded an out-of-session caller to the account's fallback number, with no masking.
Action = Literal["connect", "forward"]

_OUTCOME: dict[str, Outcome] = {
    "start": "ringing",
    "answer": "answered",
    "end": "completed",
    "failed": "failed",
}
# A call's events may arrive in any order; its outcome is the highest any of them implies.
# A BYE proves the call was connected, so "completed" outranks a contradicting failure.
OUTCOME_RANK: dict[Outcome, int] = {"ringing": 1, "answered": 2, "failed": 3, "completed": 4}

# Kamailio sends the numbers callmask routed with, already E.164: only the shape is checked.
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
# SIP Call-IDs and masking ids are visible ASCII; control characters would break PostgreSQL
# text (NUL) or the logs, and an event the database refuses would be retried forever.
_IDENTIFIER = re.compile(r"[!-~]{1,255}")
# Epoch milliseconds have 13 digits today; 10 digits means the proxy sent seconds.
# Why a recording was skipped, in the proxy's words: short printable text, never a number
# (the proxy writes fixed phrases).
_REASON = re.compile(r"[ -~]{0,200}")
_MIN_TS_MS = 10**12
# The last millisecond of year 9999 UTC: the latest instant a report can show (ISO-8601 with a
# four-digit year; Python's datetime). A later ts is a broken clock or unit, and stored it
# would be a time no report could render (docs/decisions.md, "Times callmask can show").
LAST_MS = 253_402_300_799_999
_MAX_DURATION_S = 2**31 - 1  # the column is a 32-bit INTEGER in PostgreSQL


@dataclass(frozen=True, slots=True)
class CallEvent:
    """One step of a call, as the SIP proxy reported it, with what it implies."""

    kind: EventKind
    call_id: str
    ts_ms: int
    masking_id: str | None = None
    mask: E164 | None = None
    caller: E164 | None = None
    callee: E164 | None = None
    duration_s: int | None = None
    sip_status: int | None = None
    ended_by: EndedBy | None = None
    action: Action | None = None  # on a start event
    # On a recording event (the proxy asked rtpengine at answer): started or skipped, and why.
    recording: Started | None = None
    reason: str | None = None

    @property
    def outcome(self) -> Outcome:
        # A recording event says nothing of how the call went: the answer it follows did.
        return _OUTCOME.get(self.kind, "answered")

    @property
    def started_ms(self) -> int | None:
        return self.ts_ms if self.kind == "start" else None

    @property
    def answered_ms(self) -> int | None:
        return self.ts_ms if self.kind == "answer" else None

    @property
    def ended_ms(self) -> int | None:
        return self.ts_ms if self.kind in ("end", "failed") else None


@dataclass(frozen=True, slots=True)
class CallRecord:
    """What callmask knows of one call so far; a field stays None until an event tells it."""

    call_id: str
    account_id: str | None
    masking_id: str | None
    event_id: str | None
    mask: E164 | None
    caller: E164 | None
    callee: E164 | None
    started_ms: int | None
    answered_ms: int | None
    ended_ms: int | None
    duration_s: int | None
    sip_status: int | None
    outcome: Outcome
    updated_ms: int
    ended_by: EndedBy | None = None
    # None until the start event arrives, and for calls recorded before the proxy said; those
    # were all masked calls.
    action: Action | None = None


def _identifier(data: dict[str, Any], field: str) -> str:
    value = data.get(field)
    if not isinstance(value, str) or not _IDENTIFIER.fullmatch(value):
        raise InvalidParameters(f"{field} must be 1 to 255 visible ASCII characters")
    return value


def _integer(data: dict[str, Any], field: str, low: int, high: int, bounds: str = "") -> int:
    """bounds: how the message states the range, when its figures would read as a phone
    number in a log line ("between 1000000000000 and 9007199254740992")."""
    value = data.get(field)
    # Events are JSON that Kamailio writes: an integer is a JSON integer, never a string.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParameters(f"{field} must be an integer")
    if bounds and not low <= value <= high:
        raise InvalidParameters(f"{field} must be {bounds}")
    return fields.bounded(value, field, low, high)


def _number(data: dict[str, Any], field: str) -> E164:
    value = data.get(field)
    if not isinstance(value, str):
        raise InvalidParameters(f"{field} must be an E.164 number")
    if not _E164.fullmatch(value):
        raise InvalidParameters(f"{field} {redact(value)} is not an E.164 number")
    return E164(value)


def _ended_by(data: dict[str, Any]) -> EndedBy | None:
    if "cause" not in data:
        return None
    if data["cause"] != "limit":
        raise InvalidParameters("cause must be limit when given")
    return "limit"


def _action(data: dict[str, Any]) -> Action:
    # A proxy from before forwarding sends no action: its calls are all masked.
    action = data.get("action", "connect")
    if action == "connect":
        return "connect"
    if action == "forward":
        return "forward"
    raise InvalidParameters("action must be connect or forward when given")


def _start(call_id: str, ts_ms: int, data: dict[str, Any]) -> CallEvent:
    if _action(data) == "connect":
        return CallEvent(
            "start",
            call_id,
            ts_ms,
            masking_id=_identifier(data, "maskingId"),
            mask=_number(data, "mask"),
            caller=_number(data, "caller"),
            callee=_number(data, "callee"),
            action="connect",
        )
    # A forwarded call has no masking, and its caller may have withheld their number.
    if data.get("maskingId", "") != "":
        raise InvalidParameters("maskingId must be empty on a forwarded call")
    withheld = data.get("caller", "") == ""
    return CallEvent(
        "start",
        call_id,
        ts_ms,
        mask=_number(data, "mask"),
        caller=None if withheld else _number(data, "caller"),
        callee=_number(data, "callee"),
        action="forward",
    )


def _recording(call_id: str, ts_ms: int, data: dict[str, Any]) -> CallEvent:
    status = data.get("status")
    if status not in ("started", "skipped"):
        raise InvalidParameters("status must be started or skipped on a recording event")
    reason = data.get("reason")
    if reason is not None and (not isinstance(reason, str) or not _REASON.fullmatch(reason)):
        raise InvalidParameters("reason must be up to 200 printable ASCII characters")
    started: Started = "started" if status == "started" else "skipped"
    return CallEvent("recording", call_id, ts_ms, recording=started, reason=reason or None)


def parse_call_event(raw: bytes | str) -> CallEvent:
    """One event from the SIP proxy's queue; InvalidRequestData or InvalidParameters if malformed.

    Error messages show at most the last four digits of a number, so they may be logged.
    """
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidRequestData("call event is not JSON") from None
    if not isinstance(data, dict):
        raise InvalidRequestData("call event is not a JSON object")
    kind = data.get("event")
    if not isinstance(kind, str) or (kind not in _OUTCOME and kind != "recording"):
        raise InvalidParameters("event must be one of start, answer, end, failed, recording")
    call_id = _identifier(data, "callId")
    ts_ms = _integer(data, "ts", _MIN_TS_MS, LAST_MS, "Unix time in milliseconds")
    if kind == "start":
        return _start(call_id, ts_ms, data)
    if kind == "answer":
        return CallEvent("answer", call_id, ts_ms, sip_status=200)
    if kind == "recording":
        return _recording(call_id, ts_ms, data)
    if kind == "end":
        duration_s = _integer(data, "duration", 0, _MAX_DURATION_S, "whole seconds, 0 to 2**31 - 1")
        ended_by = _ended_by(data)
        # Only a confirmed dialog ends with a BYE: it was answered even if "answer" is lost.
        return CallEvent(
            "end", call_id, ts_ms, duration_s=duration_s, sip_status=200, ended_by=ended_by
        )
    # A call that never connected talked for no time at all.
    status = _integer(data, "status", 300, 699)
    return CallEvent("failed", call_id, ts_ms, duration_s=0, sip_status=status)
