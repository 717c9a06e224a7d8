"""Call recordings: asked for per masking or per account, made by rtpengine, kept as one WAV.

A recorded call goes through: 'recording' (the proxy played the consent prompt and started
rtpengine's recording at answer), then 'ready' once the call's audio is written, or 'failed'
with the reason (its capture is missing or holds no audio). 'skipped': the prompt could not
be played, so the call was not recorded at all (docs/decisions.md, "Recording").
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Literal

Status = Literal["recording", "ready", "failed", "skipped"]
STATUSES: tuple[Status, ...] = ("recording", "ready", "failed", "skipped")
# What the proxy reports at answer: recording started, or skipped (the prompt failed).
Started = Literal["started", "skipped"]


@dataclass(frozen=True, slots=True)
class Recording:
    recording_id: str
    call_id: str
    status: Status
    reason: str | None
    file: str | None  # relative to CALLMASK_RECORDINGS_DIR, once ready
    duration_ms: int | None
    size: int | None
    created_ms: int
    updated_ms: int
    account_id: str | None = None  # the call's account, where the call is known


def new_recording_id() -> str:
    """Unguessable, and safe in a URL and a file name."""
    return "rec_" + secrets.token_urlsafe(18)


def file_name(account_id: str, recording_id: str) -> str:
    """Where a recording's audio lives under CALLMASK_RECORDINGS_DIR: one folder per account,
    so an operator can move or delete an account's recordings at once."""
    return f"{account_id}/{recording_id}.wav"


def recording_view(recording: Recording) -> dict[str, Any]:
    """The `recording` field of a call in callreport/masklist."""
    r = recording
    return {
        "id": r.recording_id,
        "status": r.status,
        "duration": None if r.duration_ms is None else round(r.duration_ms / 1000, 3),
        "size": r.size,
        "reason": r.reason,
    }
