"""Per-call rules: how long a call may last, and (per account) defaults for the account's calls.

A call's time limit is the masking's own if its set gave one, else its account's default if
the account has one, else the global CALLMASK_CALL_TIME_LIMIT; it is resolved at each route
lookup, so a changed default reaches live maskings (docs/decisions.md, "Per-call rules").
"""

from __future__ import annotations

from dataclasses import dataclass

from callmask.domain import fields
from callmask.domain.errors import InvalidParameters

# A day: longer than any call a masking is for, and a bound the proxy's timer takes as is.
MAX_CALL_TIME_LIMIT_S = 86_400
NO_LIMIT = 0


@dataclass(frozen=True, slots=True)
class AccountRules:
    """What an account set for its calls; None means the global default applies."""

    account_id: str
    call_time_limit: int | None = None


def call_time_limit(value: object, field: str = "callTimeLimit") -> int:
    """Whole seconds from 0 (no limit) to MAX_CALL_TIME_LIMIT_S, as a JSON number or a digit
    string like the API's other numbers; anything else answers 1000 naming the field."""
    wrong = InvalidParameters(
        f"{field} must be whole seconds from 0 to {MAX_CALL_TIME_LIMIT_S} (0: no limit)"
    )
    # int() reads any script's digits ("١٥" is 15); a limit is written in ASCII digits.
    if isinstance(value, str) and not value.isascii():
        raise wrong
    seconds = fields.integer(value, wrong)
    if not NO_LIMIT <= seconds <= MAX_CALL_TIME_LIMIT_S:
        raise wrong
    return seconds


def account_call_time_limit(value: str) -> int | None:
    """An account's default as `callmask account set` takes it: seconds, or "default" for the
    global CALLMASK_CALL_TIME_LIMIT (None)."""
    if value.strip().lower() == "default":
        return None
    try:
        return call_time_limit(value)
    except InvalidParameters:
        raise InvalidParameters(
            f"--call-time-limit must be whole seconds from 0 to {MAX_CALL_TIME_LIMIT_S}"
            ' (0: no limit), or "default" for CALLMASK_CALL_TIME_LIMIT'
        ) from None


def effective_call_time_limit(masking: int | None, account: int | None, default: int) -> int:
    """The limit a call gets: the masking's, else the account's, else the global default."""
    if masking is not None:
        return masking
    if account is not None:
        return account
    return default
