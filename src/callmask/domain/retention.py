"""Retention: what has ended is deleted after a while (phone numbers are personal data)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Purged:
    maskings: int = 0
    calls: int = 0
    notices: int = 0
    deliveries: int = 0
    recordings: int = 0
    # The audio files of the recordings purged, relative to CALLMASK_RECORDINGS_DIR: deleted
    # once the rows are gone.
    files: tuple[str, ...] = ()

    def __add__(self, other: Purged) -> Purged:
        return Purged(
            self.maskings + other.maskings,
            self.calls + other.calls,
            self.notices + other.notices,
            self.deliveries + other.deliveries,
            self.recordings + other.recordings,
            self.files + other.files,
        )

    @property
    def total(self) -> int:
        return self.maskings + self.calls + self.notices + self.deliveries + self.recordings


_DAY_MS = 86_400_000


def cutoff_ms(now_ms: int, days: int) -> int:
    """Rows older than this go: ended before it (maskings) or started before it (calls)."""
    return now_ms - days * _DAY_MS
