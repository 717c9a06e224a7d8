"""What the fuzz tests share: example budgets, a database snapshot, and the answer checks."""

from __future__ import annotations

import base64
import os
import sqlite3
from contextlib import closing
from typing import Any

import orjson
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from callmask.domain.errors import Code
from callmask.http import envelope

# Examples per fuzzed endpoint. The default keeps tests/fuzz within a few minutes on a 2-core
# box and is derandomized (the same examples every run, so CI is stable); setting
# CALLMASK_FUZZ_EXAMPLES asks for that many, from a fresh random seed each run.
DEFAULT_EXAMPLES = 200
_ASKED = os.environ.get("CALLMASK_FUZZ_EXAMPLES", "")
EXAMPLES = int(_ASKED) if _ASKED.isdigit() and int(_ASKED) > 0 else DEFAULT_EXAMPLES


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=not _ASKED,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )


KNOWN_CODES = {int(code) for code in Code}
TOO_MANY_REQUESTS: int | None = getattr(Code, "TOO_MANY_REQUESTS", None)
_LEAKS = (b"traceback (most recent call last)", b'file "/', b"<html", b"<!doctype", b"<body")


def snapshot(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order: what stored data compare by."""
    with closing(sqlite3.connect(database_url.removeprefix("sqlite:///"))) as conn:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        return {
            table: sorted(conn.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr)
            for table in tables
        }


def changed_tables(
    before: dict[str, list[tuple[Any, ...]]], after: dict[str, list[tuple[Any, ...]]]
) -> list[str]:
    return sorted(t for t in before.keys() | after.keys() if before.get(t) != after.get(t))


def check_answer(method: str, path: str, status: int, headers: Any, body: bytes) -> bool:
    """Assert what every answer must be; True if the request was accepted (not an error)."""
    assert status < 500, (status, body[:500])
    lowered = body.lower()
    for leak in _LEAKS:
        assert leak not in lowered, (status, body[:500])
    if not path.startswith("/api/v2"):
        return status < 400
    assert headers.get("access-control-allow-origin") == "*", dict(headers)
    if method == "OPTIONS":
        assert status == 204 and body == b"", (status, body[:200])
        return True
    kind = headers.get("content-type", "")
    if kind.startswith("text/csv"):
        assert status == 200 and path.rstrip("/").endswith("/callreport/masklist"), (status, kind)
        return True
    assert kind == envelope.MEDIA_TYPE, (status, kind, body[:200])
    answer = orjson.loads(body)
    assert isinstance(answer, dict), answer
    assert answer.get("status") in ("success", "error"), answer
    assert isinstance(answer.get("message"), str), answer
    assert answer.get("code") in KNOWN_CODES, answer
    if answer["status"] == "success":
        assert answer["code"] == Code.OK and status == 200, (status, answer)
        return True
    # 1009 is what an unexpected exception becomes: a crash, whatever the input was.
    assert answer["code"] not in (Code.OK, Code.SOMETHING_WENT_WRONG), answer
    if status == 429:
        assert answer["code"] == TOO_MANY_REQUESTS, answer
    else:
        assert status == 200, (status, answer)
    return False


def encode_cursor(sort: str, key: str) -> str:
    """A cursor as the API hands them out (base64 of "sort:key"), for any sort and key."""
    return base64.urlsafe_b64encode(f"{sort}:{key}".encode()).decode().rstrip("=")


# Cursors clients could forge: opaque text, or well-formed ones holding odd numbers and keys.
CURSORS = st.one_of(
    st.text(max_size=40),
    st.builds(
        encode_cursor,
        st.one_of(st.integers().map(str), st.text("0123456789-+", max_size=40)),
        st.one_of(
            st.integers().map(str),
            st.text(max_size=30),
            st.text("0123456789²٣", min_size=1, max_size=30),
        ),
    ),
)
