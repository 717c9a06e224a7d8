"""Log records as one JSON object (or one text line) each, with the request id, numbers masked.

Every log call is expected to pass phone numbers through `redact` already; `RedactNumbers`
is the safety net on the handler, for a number that slipped into a message, an exception's
text or an extra field.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import sys
import time
from contextvars import ContextVar
from typing import IO, Any

import orjson

# Set by the HTTP middleware for the duration of a request; read by RequestIdFilter.
request_id: ContextVar[str | None] = ContextVar("callmask_request_id", default=None)

FORMATS = ("json", "text")

# A run of 7+ digits, optionally after a + (or its URL encoding %2B), that is not part of a
# longer word or a decimal fraction: a hex masking id or a float's fraction is left alone.
_SEVEN = re.compile(r"\d{7}")
_DIGIT_RUN = re.compile(r"(?:(?:%2[Bb]|\+)\d{7,}|(?<![\w.])\d{7,})(?!\w)")
# An incoming X-Request-Id is used when it looks like an id; else a fresh one is made.
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "request_id",
}


def _mask(match: re.Match[str]) -> str:
    return "…" + match.group()[-4:]


def redact_digits(text: str) -> str:
    """Text with every phone-number-like run of digits cut to its last four."""
    return _DIGIT_RUN.sub(_mask, text)


def accepted_request_id(value: str) -> str | None:
    """The client's request id if it is safe to echo and log as is."""
    if _SANE_ID.fullmatch(value) and not _DIGIT_RUN.search(value):
        return value
    return None


# A random prefix per process and a counter: unique across processes and restarts without a
# system call per request (os.urandom was ~5% of a route lookup's CPU).
_ID_PREFIX = os.urandom(5).hex()
_ids = itertools.count(1)


def new_request_id() -> str:
    return f"{_ID_PREFIX}{next(_ids):06x}"


def extras(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a log call added with extra=..."""
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD and k[0] != "_"}


class RequestIdFilter(logging.Filter):
    """Stamps each record with the id of the request it was written during (or None)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class RedactNumbers(logging.Filter):
    """The safety net: masks number-like digit runs in the final message, exception and extras.

    It rewrites the record in place (msg, args, exc_text), so handlers after this one see the
    masked text too. It runs on every access line, so text without seven digits in a row
    (the common case) costs one quick scan.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _SEVEN.search(message):
            message = redact_digits(message)
            record.msg, record.args = message, None
        record.message = message
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_digits(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_digits(record.stack_info)
        found = [
            (key, value)
            for key, value in record.__dict__.items()
            if type(value) is str and key not in _STANDARD and _SEVEN.search(value)
        ]
        for key, value in found:
            setattr(record, key, redact_digits(value))
        return True


_stamp = (0, "")


def _iso(created: float) -> str:
    global _stamp
    second = int(created)
    if _stamp[0] != second:
        _stamp = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{_stamp[1]}.{int(created % 1 * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, then extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _iso(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": getattr(record, "message", None) or record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        entry.update(extras(record))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    """time level logger [request id] message key=value..., for a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        rid = getattr(record, "request_id", None)
        fields = " ".join(f"{key}={value}" for key, value in extras(record).items())
        head, _, tail = line.partition("\n")
        head = f"{head} [{rid}]" if rid else head
        head = f"{head} {fields}" if fields else head
        return f"{head}\n{tail}" if tail else head


def handler(log_format: str, stream: IO[str] | None = None) -> logging.Handler:
    """A stream handler with the chosen formatter, the request id and the number mask."""
    out = logging.StreamHandler(stream or sys.stderr)
    out.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    out.addFilter(RequestIdFilter())
    out.addFilter(RedactNumbers())
    return out


def configure(
    level: str,
    log_format: str,
    stream: IO[str] | None = None,
    *,
    unless_configured: bool = False,
    access_log: bool = True,
) -> None:
    """Route every logger (uvicorn's too) through one handler on the root logger.

    unless_configured: leave a root logger that has handlers alone, as logging.basicConfig
    does (an admin command run inside a test, or embedded in a program that set up logging).
    """
    if log_format not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}")
    root = logging.getLogger()
    if unless_configured and root.handlers:
        return
    for old in [h for h in root.handlers if getattr(h, "_callmask", False)]:
        root.removeHandler(old)
    out = handler(log_format, stream)
    out._callmask = True  # type: ignore[attr-defined]
    root.addHandler(out)
    root.setLevel(level.upper())
    logging.getLogger("callmask.access").setLevel(logging.NOTSET if access_log else logging.WARNING)
    # Neither format writes thread or process names; skip looking them up for every record.
    logging.logThreads = False
    logging.logMultiprocessing = False
    # httpx writes every request URL at INFO; callmask's own use (webhook delivery) logs
    # each attempt itself.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
