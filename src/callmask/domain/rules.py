"""Per-call rules: how long a call may last, and what an account does with callers who have
no live masking on the number they called (out-of-session callers).

A call's time limit is the masking's own if its set gave one, else its account's default if
the account has one, else the global CALLMASK_CALL_TIME_LIMIT; it is resolved at each route
lookup, so a changed default reaches live maskings (docs/decisions.md, "Per-call rules").
An out-of-session call is rejected with the account's SIP code (403 unless it chose another),
or forwarded to the account's fallback number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from callmask.domain import fields
from callmask.domain.errors import InvalidParameters
from callmask.domain.numbers import E164, normalise

# A day: longer than any call a masking is for; a larger figure is more likely milliseconds
# sent by mistake (docs/decisions.md, "Per-call rules").
MAX_CALL_TIME_LIMIT_S = 86_400
NO_LIMIT = 0
OutOfSession = Literal["reject", "forward"]
# What a rejected out-of-session call hears: 403 Forbidden (the default, and what callmask
# always answered), 404 Not Found (as if the number did not exist) or 480 Temporarily
# Unavailable (as if nobody were there).
REJECT_CODES = (403, 404, 480)
DEFAULT_REJECT_CODE = 403


@dataclass(frozen=True, slots=True)
class AccountRules:
    """What an account set for its calls; None means the global default applies."""

    account_id: str
    call_time_limit: int | None = None
    out_of_session: OutOfSession = "reject"
    forward_to: E164 | None = None  # the fallback number, when out_of_session is "forward"
    reject_code: int = DEFAULT_REJECT_CODE
    # Whether calls on maskings that do not say are recorded; None: not recorded.
    record: bool | None = None


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


def effective_record(masking: bool | None, account: bool | None) -> bool:
    """Whether a call is recorded: as its masking's set said, else its account's default,
    else not."""
    if masking is not None:
        return bool(masking)
    return bool(account)


def record(value: object, field: str = "record") -> bool:
    """A yes or no as DeepCall-style clients send one: a JSON boolean, 1 or 0, or the text
    true/false, yes/no, 1/0 (any case); anything else answers 1000 naming the field."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "yes", "1"):
            return True
        if text in ("false", "no", "0"):
            return False
    raise InvalidParameters(f"{field} must be true or false")


def out_of_session(value: str, region: str) -> tuple[OutOfSession, E164 | None]:
    """`--out-of-session`: "reject", or "forward:" and the fallback number (any form set takes,
    normalised to E.164)."""
    kind, colon, number = value.strip().partition(":")
    if kind == "reject" and not colon:
        return "reject", None
    if kind == "forward" and colon:
        return "forward", normalise(number, "the --out-of-session forward number", region)
    raise InvalidParameters("--out-of-session must be reject or forward:+E164")


def reject_code(value: str) -> int:
    """`--reject-code`: one of REJECT_CODES."""
    text = value.strip()
    if not text.isascii() or not text.isdigit() or int(text) not in REJECT_CODES:
        raise InvalidParameters(f"--reject-code must be one of {', '.join(map(str, REJECT_CODES))}")
    return int(text)
