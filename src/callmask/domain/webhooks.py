"""Webhook notices: what happened, as the JSON body an account's receiver gets, and its signature.

A notice is built where the change is made and stored with it (the outbox), so what is sent
is the state at that moment, byte for byte the same on every retry. The signature covers the
attempt's timestamp and the body, so a receiver can refuse replays of old deliveries.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from callmask.domain.calls import CallRecord
from callmask.domain.errors import InvalidParameters
from callmask.domain.masking import Masking, MaskingRecord
from callmask.domain.paging import Page
from callmask.domain.recordings import Recording, recording_view
from callmask.domain.reports import call_view, choices, given, iso, masking_view, page, text
from callmask.domain.reports import instant as parse_instant

MASKING_CREATED = "masking.created"
MASKING_UPDATED = "masking.updated"
MASKING_ENDED = "masking.ended"
CALL_STARTED = "call.started"
# An out-of-session call the proxy forwarded to the account's fallback number starts with this
# instead of call.started; its call.answered and call.ended follow as for a masked call.
CALL_FORWARDED = "call.forwarded"
CALL_ANSWERED = "call.answered"
CALL_ENDED = "call.ended"
# A recorded call's audio is written (or could not be): its recording field, with the call id.
RECORDING_READY = "recording.ready"
RECORDING_FAILED = "recording.failed"
KINDS = (
    MASKING_CREATED,
    MASKING_UPDATED,
    MASKING_ENDED,
    CALL_STARTED,
    CALL_FORWARDED,
    CALL_ANSWERED,
    CALL_ENDED,
    RECORDING_READY,
    RECORDING_FAILED,
)
OUTCOMES = ("delivered", "retry", "failed")

SIGNATURE_VERSION = "v1"
# Retries wait first_delay, doubling each time, but never longer than this.
MAX_RETRY_DELAY_MS = 3_600_000


@dataclass(frozen=True, slots=True)
class Notice:
    """One event for one account's webhook, with its idempotency id.

    dedup_key names an event that can happen once only (a masking's creation or end, each step
    of a call), so a change noticed twice - two sweepers, a call event replayed - is stored once.
    """

    event_id: str
    account_id: str
    kind: str
    dedup_key: str | None
    body: str
    created_ms: int


@dataclass(frozen=True, slots=True)
class DeliveryQuery:
    account_id: str
    page: Page
    event_id: str | None = None
    kinds: tuple[str, ...] = ()
    outcomes: tuple[str, ...] = ()
    start_ms: int | None = None
    end_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One attempt to deliver one notice, as the delivery log keeps it."""

    delivery_id: int
    event_id: str
    kind: str
    attempt: int
    attempted_ms: int
    url: str
    http_status: int | None
    error: str | None
    duration_ms: int
    outcome: str


def new_event_id() -> str:
    return "evt_" + secrets.token_hex(12)


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def _notice(
    kind: str, account_id: str, data: dict[str, Any], now_ms: int, dedup_key: str | None
) -> Notice:
    event_id = new_event_id()
    body = {
        "id": event_id,
        "type": kind,
        "createdAt": iso(now_ms),
        "accountId": account_id,
        "data": data,
    }
    return Notice(event_id, account_id, kind, dedup_key, orjson.dumps(body).decode(), now_ms)


def masking_created(masking: Masking, now_ms: int) -> Notice:
    view = masking_view(MaskingRecord(masking), now_ms)
    return _notice(
        MASKING_CREATED, masking.account_id, view, now_ms, f"{masking.masking_id}:created"
    )


def masking_updated(masking: Masking, now_ms: int) -> Notice:
    view = masking_view(MaskingRecord(masking), now_ms)
    return _notice(MASKING_UPDATED, masking.account_id, view, now_ms, None)


def masking_ended(masking: Masking, ended_ms: int, reason: str, now_ms: int) -> Notice:
    view = masking_view(MaskingRecord(masking, ended_ms, reason), now_ms)
    return _notice(MASKING_ENDED, masking.account_id, view, now_ms, f"{masking.masking_id}:ended")


def call_notices(record: CallRecord, now_ms: int) -> list[Notice]:
    """Every step the record shows so far; the outbox keeps one of each per call.

    Events may arrive in any order, so a call whose end came first is announced started and
    ended together once its start (which names the masking, or for a forwarded call the DID,
    hence the account) arrives.
    """
    if record.account_id is None:
        return []
    steps = (
        (CALL_FORWARDED if record.action == "forward" else CALL_STARTED, record.started_ms),
        (CALL_ANSWERED, record.answered_ms),
        (CALL_ENDED, record.ended_ms if record.outcome in ("completed", "failed") else None),
    )
    view = call_view(record)
    return [
        _notice(kind, record.account_id, view, now_ms, f"{record.call_id}:{kind}")
        for kind, when in steps
        if when is not None
    ]


def recording_finished(recording: Recording, account_id: str, now_ms: int) -> Notice:
    """recording.ready (the file can be downloaded) or recording.failed (reason says why)."""
    kind = RECORDING_READY if recording.status == "ready" else RECORDING_FAILED
    view = {"callId": recording.call_id, "recording": recording_view(recording)}
    return _notice(kind, account_id, view, now_ms, f"{recording.recording_id}:finished")


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """X-Callmask-Signature: v1=hex(HMAC-SHA256(secret, "<timestamp>.<body>"))."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"{SIGNATURE_VERSION}={mac.hexdigest()}"


def verify(
    secret: str, timestamp: str, signed: str, body: bytes, now_s: float, tolerance_s: int = 300
) -> bool:
    """What a receiver checks: a fresh timestamp and a matching signature."""
    if not timestamp.isdigit() or abs(now_s - int(timestamp)) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, int(timestamp), body), signed)


def retry_delay_ms(attempts: int, first_delay_ms: int) -> int:
    """How long to wait after the attempts-th failed attempt: doubling, capped at an hour."""
    return int(min(first_delay_ms * 2 ** max(attempts - 1, 0), MAX_RETRY_DELAY_MS))


def delivery_query(params: Mapping[str, Any], account_id: str) -> DeliveryQuery:
    kinds = choices(params["type"], "type", KINDS) if given(params, "type") else ()
    outcomes = choices(params["outcome"], "outcome", OUTCOMES) if given(params, "outcome") else ()
    start = parse_instant(params["startTime"], "startTime") if given(params, "startTime") else None
    end = parse_instant(params["endTime"], "endTime") if given(params, "endTime") else None
    if start is not None and end is not None and start >= end:
        raise InvalidParameters("startTime must be before endTime")
    event_id = text(params["id"], "id") if given(params, "id") else None
    paging = page(params)
    # An outbox id: ASCII digits ("²".isdigit() too) that fit the 64-bit column.
    key = paging.after.key if paging.after is not None else "0"
    if not (key.isascii() and key.isdigit() and int(key) < 2**63):
        raise InvalidParameters("cursor is not valid")
    return DeliveryQuery(account_id, paging, event_id, kinds, outcomes, start, end)


def delivery_view(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": delivery.event_id,
        "type": delivery.kind,
        "attempt": delivery.attempt,
        "attemptTime": iso(delivery.attempted_ms),
        "url": delivery.url,
        "httpStatus": delivery.http_status,
        "error": delivery.error,
        "durationMs": delivery.duration_ms,
        "outcome": delivery.outcome,
    }


@dataclass(frozen=True, slots=True)
class Webhook:
    account_id: str
    url: str
    secret: str
    created_ms: int


@dataclass(frozen=True, slots=True)
class Claimed:
    """A notice leased for one delivery attempt, with where and how to send it."""

    seq: int
    event_id: str
    account_id: str
    kind: str
    body: str
    attempt: int
    url: str
    secret: str


@dataclass(frozen=True, slots=True)
class Attempt:
    """How one delivery attempt went and what comes next (next_attempt_ms for a retry).

    postpone_until: the receiver looked down, so the account's other pending notices wait
    until then too rather than each being tried against it.
    """

    claimed: Claimed
    attempted_ms: int
    http_status: int | None
    error: str | None
    duration_ms: int
    outcome: str
    next_attempt_ms: int
    postpone_until: int | None
