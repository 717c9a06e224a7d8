"""A run-wide check that no log record carries a full phone number, whatever its level.

Every record any logger handles goes through `LeakDetector.check` (Logger.handle is wrapped),
before any handler or filter: so callmask's own safety net (logs.RedactNumbers) cannot hide
a number that code passed to a log call, and loggers that do not propagate to the root
(uvicorn's) are seen too. The root level is DEBUG for the run, so debug calls are made.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

# 8+ digits in a row, optionally after + or its URL encoding %2B, not inside a longer word (a
# hex id) or after a decimal point. Dashes and parentheses may separate the digits
# ("(981) 234-5670"); spaces only after a + ("+91 98123 45670"), since "200 45276" (a
# status and a length) is not a number.
PHONE = re.compile(
    r"(?:(?:\+|%2[Bb])\d(?:[ ()-]{0,2}\d){7,}"
    r"|(?<![\w.])\(?\d(?:(?:-|\)\s?|\()?\d){7,})(?!\w)"
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_HEXISH = re.compile(r"[0-9A-Fa-f-]")
# Unix seconds and milliseconds from 2001 to 2033. No valid number reads as one: NANP ten-
# digit numbers start 2-9, Indian mobiles 6-9, and E.164 ones carry their country code.
_SECONDS = range(1_000_000_000, 2_000_000_000)
_MILLIS = range(1_000_000_000_000, 2_000_000_000_000)
# The tests' own HTTP clients log each request URL, whose query strings carry the numbers
# a test sends; callmask's httpx (webhook delivery) logs only the receiver's URL. Selenium
# (tests/console) logs every command to the browser and its answer: the keys a test types,
# the text it reads off a page.
IGNORED_LOGGERS = ("httpx", "httpcore", "urllib3", "requests", "selenium")
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message"}


def _is_timestamp(text: str) -> bool:
    return text.isdigit() and (int(text) in _SECONDS or int(text) in _MILLIS)


def _in_uuid(text: str, start: int, end: int) -> bool:
    while start > 0 and _HEXISH.match(text[start - 1]):
        start -= 1
    while end < len(text) and _HEXISH.match(text[end]):
        end += 1
    return bool(_UUID.search(text[start:end]))


def full_numbers(text: str) -> list[str]:
    """The phone-number-like digit runs in text (dates, timestamps and UUIDs left out)."""
    found = []
    for match in PHONE.finditer(text):
        run = match.group()
        if _DATE.match(run) or _is_timestamp(run) or _in_uuid(text, *match.span()):
            continue
        found.append(run)
    return found


def texts(record: logging.LogRecord) -> Iterator[str]:
    """Everything of a record a formatter could write: message, exception, stack, extras."""
    try:
        yield record.getMessage()
    except Exception:
        yield f"{record.msg} {record.args}"
    if record.exc_info and record.exc_info[1] is not None:
        yield "".join(traceback.format_exception(record.exc_info[1]))
    elif record.exc_text:
        yield record.exc_text
    if record.stack_info:
        yield record.stack_info
    for key, value in record.__dict__.items():
        if key not in _STANDARD and isinstance(value, str):
            yield value


class LeakDetector:
    def __init__(self) -> None:
        self.leaks: list[str] = []
        self._sink: list[str] | None = None
        self._original: Callable[[logging.Logger, logging.LogRecord], None] | None = None

    def check(self, record: logging.LogRecord) -> None:
        if record.name.startswith(IGNORED_LOGGERS):
            return
        for text in texts(record):
            numbers = full_numbers(text)
            if numbers:
                where = f"{record.name} {record.levelname} {record.pathname}:{record.lineno}"
                entry = f"{where}: {numbers} in {text[:300]!r}"
                (self._sink if self._sink is not None else self.leaks).append(entry)

    def install(self) -> None:
        original = logging.Logger.handle
        self._original = original
        detector = self

        def handle(logger: logging.Logger, record: logging.LogRecord) -> Any:
            detector.check(record)
            return original(logger, record)

        logging.Logger.handle = handle  # type: ignore[method-assign]

    def uninstall(self) -> None:
        if self._original is not None:
            logging.Logger.handle = self._original  # type: ignore[method-assign]
            self._original = None

    @contextmanager
    def expected(self) -> Iterator[list[str]]:
        """Leaks inside the block go to the list yielded instead of failing the run."""
        self._sink = caught = []
        try:
            yield caught
        finally:
            self._sink = None


def watch_session() -> Iterator[LeakDetector]:
    """The session fixture's body: install, run every test, then fail on any leak."""
    detector = LeakDetector()
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.DEBUG)
    detector.install()
    try:
        yield detector
    finally:
        detector.uninstall()
        root.setLevel(level)
    if detector.leaks:
        by_place: dict[str, list[str]] = {}
        for leak in detector.leaks:
            by_place.setdefault(leak.split(": ", 1)[0], []).append(leak)
        listed = "\n".join(f"{len(found)}x {found[0]}" for found in by_place.values())
        raise AssertionError(
            f"{len(detector.leaks)} log records carried a full phone number:\n{listed}"
        )
