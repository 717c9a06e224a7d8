"""Phone numbers: parse what clients send into E.164, and show them safely in logs."""

from __future__ import annotations

from functools import lru_cache
from typing import NewType

import phonenumbers

from callmask.domain import fields
from callmask.domain.errors import InvalidParameters

E164 = NewType("E164", str)

# A number longer than this is not a phone number; refuse it before phonenumbers works on it.
_MAX_INPUT = 40


def normalise(value: object, field: str, region: str) -> E164:
    """A client value (string or bare JSON number) as E.164, or 1000 naming the field."""
    if value is None or value == "":
        raise InvalidParameters(f"{field} is required")
    if isinstance(value, bool):
        raise InvalidParameters(f"{field} is not a valid phone number")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        if value < 0:
            raise InvalidParameters(f"{field} is not a valid phone number")
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise InvalidParameters(f"{field} is not a valid phone number")
    if not text or len(text) > _MAX_INPUT:
        raise InvalidParameters(f"{field} is not a valid phone number")
    fields.printable(text, field)
    # phonenumbers reads letters as keypad digits (1-800-FLOWERS), so a typo such as an O for
    # a 0 would reach someone else; a number is written in digits only.
    if any(character.isalpha() for character in text):
        raise InvalidParameters(f"{field} must be written in digits, without letters")
    number = _e164(text, region)
    if number is None:
        raise InvalidParameters(f"{field} is not a valid phone number")
    if number is _EXTENSION:
        # The extension would be dropped: the call would reach the switchboard, not the person.
        raise InvalidParameters(f"{field} must not carry an extension")
    return number


_EXTENSION = E164("extension")


# phonenumbers spends ~50 us per parse; the same callers, parties and pool numbers come back
# on every call and every set, so remember the answers (bounded, ~200 bytes each).
@lru_cache(maxsize=100_000)
def _e164(text: str, region: str) -> E164 | None:
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    if parsed.extension:
        return _EXTENSION
    return E164(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def redact(number: str) -> str:
    """What logs may show of a number: its last four digits."""
    return "…" + number[-4:] if len(number) > 4 else "…"
