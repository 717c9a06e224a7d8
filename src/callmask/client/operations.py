"""Each endpoint as an Operation: its path, its parameters in the API's words, whether sending
it twice is harmless, and how its answer is read. The sync and async clients only send them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypedDict, TypeVar

import httpx

from callmask.client.errors import BY_CODE, CallmaskError, TooManyRequests, UnexpectedAnswer
from callmask.client.models import Call, Delivery, Masking, Page, Ssid

T = TypeVar("T")

Number = str | int  # E.164, national digits, or a bare number, as the API takes them
Time = int | str | datetime  # Unix seconds or milliseconds, ISO-8601 with an offset


class MaskingFilters(TypedDict, total=False):
    status: str  # active, ended (or expired), all
    party: Number
    mask: Number
    event_id: str
    masking_id: str
    created_from: Time
    created_to: Time
    expiry_from: Time
    expiry_to: Time
    order: str  # desc, asc


class CallFilters(TypedDict, total=False):
    start_time: Time
    end_time: Time
    mask: Number
    party: Number
    event_id: str
    masking_id: str
    status: str | Sequence[str]  # ringing, answered, completed, failed
    action: str | Sequence[str]  # connect, forward
    min_duration: int
    max_duration: int
    order: str


class DeliveryFilters(TypedDict, total=False):
    id: str
    type: str
    outcome: str  # delivered, retry, failed
    start_time: Time
    end_time: Time
    order: str


# Our keyword -> the API's parameter, where they differ.
_WORDS = {
    "event_id": "eventId",
    "masking_id": "maskingId",
    "call_time_limit": "callTimeLimit",
    "created_from": "createdFrom",
    "created_to": "createdTo",
    "expiry_from": "expiryFrom",
    "expiry_to": "expiryTo",
    "start_time": "startTime",
    "end_time": "endTime",
    "min_duration": "minDuration",
    "max_duration": "maxDuration",
}


def params(given: Mapping[str, object]) -> dict[str, object]:
    """The API's parameters: None left out, datetimes as ISO-8601, sequences as lists."""
    out: dict[str, object] = {}
    for key, value in given.items():
        if value is None:
            continue
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, (tuple, list)):
            value = list(value)
        out[_WORDS.get(key, key)] = value
    return out


@dataclass(frozen=True)
class Operation(Generic[T]):
    path: str
    params: dict[str, object]
    # Sent again after a lost answer, it changes nothing: reads, and set with an eventId
    # (an exact retry answers the existing masking).
    idempotent: bool
    read: Callable[[httpx.Response], T]


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(float(response.headers.get("Retry-After", "1")), 0.0)
    except ValueError:
        return 1.0


def answer(response: httpx.Response) -> dict[str, Any]:
    """The success envelope, or the error class of its code raised."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict) or "status" not in data:
        raise UnexpectedAnswer(
            f"HTTP {response.status_code}, not a callmask answer", response.status_code
        )
    if data["status"] == "success":
        return data
    code, message, detail = data.get("code"), str(data.get("message", "")), data.get("detail")
    cls = BY_CODE.get(code) if isinstance(code, int) else None
    if cls is TooManyRequests or response.status_code == 429:
        raise TooManyRequests(message, detail, code, retry_after_s=_retry_after(response))
    if cls is None:
        raise CallmaskError(message, detail, code if isinstance(code, int) else 0)
    raise cls(message, detail)


def _audio(response: httpx.Response) -> bytes:
    # The recording is the WAV itself; an error is the JSON envelope.
    if response.headers.get("content-type", "").startswith("application/json"):
        answer(response)
    if response.status_code != 200:
        raise UnexpectedAnswer(f"HTTP {response.status_code}", response.status_code)
    return response.content


SET = "/api/v2/Masking/set"
UNSET = "/api/v2/Masking/unset"
GET = "/api/v2/Masking/get"
LIST = "/api/v2/Masking/list"
MASKLIST = "/api/v2/callreport/masklist"
RECORDING = "/api/v2/callreport/recording"
DELIVERIES = "/api/v2/webhooks/deliveries"
SSID = "/api/v2/auth/ssid"


def set_masking(
    m1: Number,
    m2: Number,
    event_id: str | None,
    expiry_time: Time | None,
    expiry_duration: int | str | None,
    call_time_limit: int | None,
    record: bool | None,
) -> Operation[Masking]:
    given = params(
        {
            "m1": m1,
            "m2": m2,
            "event_id": event_id,
            "expiry_time": expiry_time,
            "expiry_duration": expiry_duration,
            "call_time_limit": call_time_limit,
            "record": record,
        }
    )
    return Operation(SET, given, bool(event_id), _set_answer)


def _set_answer(response: httpx.Response) -> Masking:
    # The masking's fields sit beside the envelope's, whose `status` is not the masking's.
    data = answer(response)
    return Masking.read({k: v for k, v in data.items() if k not in ("status", "code", "message")})


def _maskings(response: httpx.Response) -> tuple[Masking, ...]:
    return tuple(Masking.read(entry) for entry in answer(response)["maskings"])


def unset_masking(
    m1: Number | None,
    m2: Number | None,
    mask: Number | None,
    expiry_time: Time | None,
    expiry_duration: int | str | None,
) -> Operation[tuple[Masking, ...]]:
    given = params(
        {
            "m1": m1,
            "m2": m2,
            "mask": mask,
            "expiry_time": expiry_time,
            "expiry_duration": expiry_duration,
        }
    )
    # Never sent twice: a second unset after a lost answer would end a masking set in between.
    return Operation(UNSET, given, False, _maskings)


def get_maskings(masking_id: str | None, event_id: str | None) -> Operation[tuple[Masking, ...]]:
    given = params({"masking_id": masking_id, "event_id": event_id})
    return Operation(GET, given, True, _maskings)


def _page(
    path: str,
    key: str,
    item: Callable[[Mapping[str, Any]], T],
    filters: Mapping[str, object],
    limit: int | None,
    cursor: str | None,
) -> Operation[Page[T]]:
    given = params({**filters, "limit": limit, "cursor": cursor})
    return Operation(path, given, True, lambda r: Page.read(answer(r), key, item))


def list_maskings(
    filters: MaskingFilters, limit: int | None, cursor: str | None
) -> Operation[Page[Masking]]:
    return _page(LIST, "maskings", Masking.read, filters, limit, cursor)


def masklist(filters: CallFilters, limit: int | None, cursor: str | None) -> Operation[Page[Call]]:
    return _page(MASKLIST, "calls", Call.read, filters, limit, cursor)


def deliveries(
    filters: DeliveryFilters, limit: int | None, cursor: str | None
) -> Operation[Page[Delivery]]:
    return _page(DELIVERIES, "deliveries", Delivery.read, filters, limit, cursor)


def recording(recording_id: str) -> Operation[bytes]:
    return Operation(RECORDING, {"id": recording_id}, True, _audio)


def create_ssid() -> Operation[Ssid]:
    # Each call makes another ssid (and may revoke the user's oldest): not sent twice.
    return Operation(SSID, {}, False, lambda r: Ssid.read(answer(r)))
