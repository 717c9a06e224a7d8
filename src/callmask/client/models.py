"""What the API answers, as frozen dataclasses in Python's words (the JSON keys beside each)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def _time(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


@dataclass(frozen=True)
class Masking:
    """A masking as set and unset answer it; get and list also fill the last four fields."""

    masking_id: str
    mask: str
    m1: str
    m2: str
    event_id: str | None
    expiry_time: int  # Unix seconds
    call_time_limit: int | None  # None: the account's default applies at each call
    record: bool | None
    created_time: int | None = None
    status: str | None = None  # active, ended
    ended_time: int | None = None
    end_reason: str | None = None  # unset, expired, number removed

    @classmethod
    def read(cls, data: Mapping[str, Any]) -> Masking:
        return cls(
            masking_id=data["maskingId"],
            mask=data["mask"],
            m1=data["m1"],
            m2=data["m2"],
            event_id=data.get("eventId"),
            expiry_time=data["expiry_time"],
            call_time_limit=data.get("callTimeLimit"),
            record=data.get("record"),
            created_time=data.get("created_time"),
            status=data.get("status"),
            ended_time=data.get("ended_time"),
            end_reason=data.get("endReason"),
        )


@dataclass(frozen=True)
class Recording:
    id: str
    status: str  # recording, ready, failed, skipped
    duration: float | None  # seconds of audio; None until ready
    size: int | None
    reason: str | None

    @classmethod
    def read(cls, data: Mapping[str, Any]) -> Recording:
        return cls(data["id"], data["status"], data["duration"], data["size"], data["reason"])


@dataclass(frozen=True)
class Call:
    """One call of the masked-call report."""

    call_id: str
    masking_id: str | None  # None for a forwarded call
    event_id: str | None
    mask: str
    caller: str | None
    callee: str | None
    start_time: datetime | None
    answer_time: datetime | None
    end_time: datetime | None
    duration: int | None
    sip_status: int | None
    status: str  # ringing, answered, completed, failed
    ended_by: str | None
    action: str  # connect, forward
    recording: Recording | None

    @classmethod
    def read(cls, data: Mapping[str, Any]) -> Call:
        recording = data.get("recording")
        return cls(
            call_id=data["callId"],
            masking_id=data.get("maskingId"),
            event_id=data.get("eventId"),
            mask=data["mask"],
            caller=data.get("caller"),
            callee=data.get("callee"),
            start_time=_time(data.get("startTime")),
            answer_time=_time(data.get("answerTime")),
            end_time=_time(data.get("endTime")),
            duration=data.get("duration"),
            sip_status=data.get("sipStatus"),
            status=data["status"],
            ended_by=data.get("endedBy"),
            action=data.get("action", "connect"),
            recording=Recording.read(recording) if recording else None,
        )


@dataclass(frozen=True)
class Delivery:
    """One attempt to deliver a webhook event."""

    id: str
    type: str
    attempt: int
    attempt_time: datetime | None
    url: str | None
    http_status: int | None
    error: str | None
    duration_ms: int | None
    outcome: str  # delivered, retry, failed

    @classmethod
    def read(cls, data: Mapping[str, Any]) -> Delivery:
        return cls(
            id=data["id"],
            type=data["type"],
            attempt=data["attempt"],
            attempt_time=_time(data.get("attemptTime")),
            url=data.get("url"),
            http_status=data.get("httpStatus"),
            error=data.get("error"),
            duration_ms=data.get("durationMs"),
            outcome=data["outcome"],
        )


@dataclass(frozen=True)
class Ssid:
    ssid: str
    expiry_time: int  # Unix seconds

    @classmethod
    def read(cls, data: Mapping[str, Any]) -> Ssid:
        return cls(data["ssid"], data["expiry_time"])


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing; pass `next_cursor` back (with the same filters) for the next."""

    items: tuple[T, ...]
    next_cursor: str | None

    @classmethod
    def read(
        cls, data: Mapping[str, Any], key: str, item: Callable[[Mapping[str, Any]], T]
    ) -> Page[T]:
        return cls(tuple(item(entry) for entry in data[key]), data.get("nextCursor"))
