"""Keyset pages: up to a limit of records after a cursor, and the cursor of the next page.

Pages follow (time, id), so a page starts where the previous one stopped: as fast at page
1000 as at page 1, and stable while rows arrive. Every listing reads one record more than
it shows, to learn whether there is a next page without counting.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from callmask.domain import fields
from callmask.domain.errors import InvalidParameters

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where the next page starts: the last record's sort time and id (opaque to clients)."""

    sort_ms: int
    key: str

    def encode(self) -> str:
        raw = f"{self.sort_ms}:{self.key}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: object) -> Cursor:
        if not isinstance(text, str) or not 0 < len(text) <= 600:
            raise InvalidParameters("cursor is not valid")
        fields.printable(text, "cursor")
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise InvalidParameters("cursor is not valid") from None
        sort, _, key = raw.partition(":")
        if not fields.integer_text(sort) or sort != sort.strip() or not key:
            raise InvalidParameters("cursor is not valid")
        fields.printable(key, "cursor")
        return cls(int(sort), key)


@dataclass(frozen=True, slots=True)
class Page:
    """Up to limit records after the cursor, newest first unless ascending."""

    limit: int = DEFAULT_LIMIT
    after: Cursor | None = None
    descending: bool = True


def widened(page: Page) -> Page:
    """The same page, one record longer: the extra record says whether there are more."""
    return dataclasses.replace(page, limit=page.limit + 1)


def cut(
    found: list[T], page: Page, position: Callable[[T], Cursor | None]
) -> tuple[list[T], str | None]:
    """What a widened read found, as the page's records and the next page's cursor (if any)."""
    shown = found[: page.limit]
    if len(found) <= page.limit or not shown:
        return shown, None
    after = position(shown[-1])
    return shown, None if after is None else after.encode()
