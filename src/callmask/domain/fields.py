"""Client fields as DeepCall clients send them: numbers as strings or bare JSON numbers, times
as Unix seconds, Unix milliseconds or ISO-8601 with an offset.

The one place such a field is coerced; each caller says which error a bad value answers.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache

from callmask.domain.errors import InvalidParameters, MaskingError

# Unix times from 10**12 up are milliseconds: JavaScript clients send Date.now() (13 digits).
MILLISECONDS_FROM = 10**12
# C0, DEL and C1. No id, name or credential has a use for them; PostgreSQL refuses a NUL in
# text outright (the query fails, which read as a database outage), SQLite stores it.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def given(value: object) -> bool:
    return value is not None and value != ""


@cache
def _digits(most: int) -> re.Pattern[str]:
    return re.compile(rf"[+-]?\d{{1,{most}}}")


def integer_text(value: str, digits: int = 16) -> bool:
    """Whether value (stripped) is a signed integer of at most digits digits."""
    return _digits(digits).fullmatch(value.strip()) is not None


def integer(value: object, failure: MaskingError, digits: int = 16) -> int:
    """An int, an integral float, or a string of at most digits digits; else failure."""
    if isinstance(value, bool):
        raise failure
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and integer_text(value, digits):
        return int(value.strip())
    raise failure


def bounded(value: int, field: str, low: int, high: int) -> int:
    if not low <= value <= high:
        raise InvalidParameters(f"{field} must be between {low} and {high}")
    return value


def epoch_ms(number: int) -> int:
    """A Unix time in seconds or (from 10**12 up) milliseconds, as milliseconds."""
    return number if abs(number) >= MILLISECONDS_FROM else number * 1000


def iso_ms(value: str, field: str, unparsable: MaskingError) -> int:
    """ISO-8601 with a UTC offset, as epoch milliseconds."""
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise unparsable from None
    if when.tzinfo is None:
        raise InvalidParameters(f"{field} in ISO-8601 form needs a UTC offset")
    return int(when.timestamp() * 1000)


def printable(text: str, field: str, failure: type[MaskingError] = InvalidParameters) -> str:
    """text, unless it holds a control character: then failure naming the field."""
    if _CONTROL.search(text) is not None:
        raise failure(f"{field} contains a control character")
    return text


def string(value: object, field: str, failure: type[MaskingError] = InvalidParameters) -> str:
    """A string or an integer (clients send ids either way), stripped; a control character
    inside it answers failure (credentials: 1014, counted as a failed login)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidParameters(f"{field} must be a string")
    return printable(str(value).strip(), field, failure)


def bounded_text(
    value: object, field: str, limit: int = 255, failure: type[MaskingError] = InvalidParameters
) -> str:
    """string(), at most limit characters (empty allowed: the caller decides)."""
    text = string(value, field, failure)
    if len(text) > limit:
        raise InvalidParameters(f"{field} is longer than {limit} characters")
    return text
