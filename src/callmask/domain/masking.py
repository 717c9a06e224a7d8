"""A masking and the rules for when it ends."""

from __future__ import annotations

from dataclasses import dataclass

from callmask.domain import fields
from callmask.domain.errors import ExpiryNotInteger, InvalidParameters
from callmask.domain.numbers import E164

# Expiries are checked against the ceiling after parsing, so any length of digits is read.
_DIGITS = 30


@dataclass(frozen=True, slots=True)
class Masking:
    masking_id: str
    account_id: str
    m1: E164
    m2: E164
    mask: E164
    event_id: str | None
    created_ms: int
    expires_ms: int
    # Seconds a call on it may last (0: no limit); None: its account's or the global default.
    call_time_limit: int | None = None
    # Whether its calls are recorded; None: its account's default (else not recorded).
    record: bool | None = None

    def __post_init__(self) -> None:
        # SQLite hands a boolean column back as 0 or 1.
        if self.record is not None and type(self.record) is not bool:
            object.__setattr__(self, "record", bool(self.record))

    def other_party(self, caller: E164) -> E164 | None:
        if caller == self.m1:
            return self.m2
        if caller == self.m2:
            return self.m1
        return None

    @property
    def expiry_seconds(self) -> int:
        return -(-self.expires_ms // 1000)


@dataclass(frozen=True, slots=True)
class MaskingRecord:
    """A masking as the history keeps it: live, or ended when and why."""

    masking: Masking
    ended_ms: int | None = None
    end_reason: str | None = None

    def ended(self, now_ms: int) -> tuple[int, str] | None:
        """(when, why) it ended; a lapsed masking ended at its expiry even if not yet swept."""
        if self.ended_ms is not None:
            return self.ended_ms, self.end_reason or "expired"
        if self.masking.expires_ms <= now_ms:
            return self.masking.expires_ms, "expired"
        return None


@dataclass(frozen=True, slots=True)
class ExpiryRules:
    default_minutes: int
    max_minutes: int


def pair_key(m1: E164, m2: E164) -> tuple[E164, E164]:
    """The pair in a fixed order, so (m1, m2) and (m2, m1) are the same pair."""
    return (m1, m2) if m1 <= m2 else (m2, m1)


def _integer(value: object, field: str) -> int:
    return fields.integer(value, ExpiryNotInteger(f"{field} must be an integer value"), _DIGITS)


def _instant_ms(value: object) -> int:
    """expiry_time in epoch ms: Unix seconds, Unix milliseconds, or ISO-8601 with an offset."""
    if isinstance(value, str) and not fields.integer_text(value, _DIGITS):
        unparsable = ExpiryNotInteger("expiry_time must be an integer value")
        return fields.iso_ms(value, "expiry_time", unparsable)
    return fields.epoch_ms(_integer(value, "expiry_time"))


def _minutes_ms(value: object) -> int:
    minutes = _integer(value, "expiry_duration")
    return minutes * 60_000


def _whole_second(ms: int) -> int:
    return -(-ms // 1000) * 1000


def _check_ceiling(expires_ms: int, now_ms: int, rules: ExpiryRules) -> int:
    # Durations end on a whole second (rounded up), so the ceiling is rounded the same way.
    if expires_ms > _whole_second(now_ms + rules.max_minutes * 60_000):
        raise InvalidParameters(f"expiry is beyond the maximum of {rules.max_minutes} minutes")
    return expires_ms


def expiry_for_set(
    expiry_time: object, expiry_duration: object, now_ms: int, rules: ExpiryRules
) -> int:
    """When a new masking ends. expiry_time wins over expiry_duration; both are type-checked."""
    has_time, has_duration = fields.given(expiry_time), fields.given(expiry_duration)
    duration_ms = _minutes_ms(expiry_duration) if has_duration else None
    if has_time:
        expires_ms = _instant_ms(expiry_time)
        if expires_ms <= now_ms:
            raise InvalidParameters("expiry_time is in the past")
    elif duration_ms is not None:
        if duration_ms <= 0:
            raise InvalidParameters("expiry_duration must be a positive number of minutes")
        expires_ms = _whole_second(now_ms + duration_ms)
    else:
        expires_ms = _whole_second(now_ms + rules.default_minutes * 60_000)
    return _check_ceiling(expires_ms, now_ms, rules)


def expiry_for_unset(
    expiry_time: object, expiry_duration: object, now_ms: int, rules: ExpiryRules
) -> int:
    """The new end of an existing masking; a result at or before now_ms means end it now."""
    has_time, has_duration = fields.given(expiry_time), fields.given(expiry_duration)
    duration_ms = _minutes_ms(expiry_duration) if has_duration else None
    if has_time:
        expires_ms = _instant_ms(expiry_time)
    elif duration_ms is not None:
        expires_ms = _whole_second(now_ms + duration_ms) if duration_ms > 0 else now_ms
    else:
        return now_ms
    return _check_ceiling(max(expires_ms, now_ms), now_ms, rules)
