"""A PostgreSQL schema of the run's own: created empty, found by its backends, always dropped.

callmask reaches it through the URL: asyncpg sends query parameters it does not know as
server settings, so `?search_path=S` puts callmask's tables in S, and
`application_name=S` names its connections, which lets the runner find the backend
processes serving callmask (to measure their CPU) in pg_stat_activity.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections import Counter
from types import TracebackType
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

PREFIX = "bench_"


def new_name(label: str = "") -> str:
    """bench_<random>[_label]: a name no other run or test uses."""
    return PREFIX + secrets.token_hex(4) + (f"_{label}" if label else "")


def url(admin_url: str, schema: str) -> str:
    """admin_url with callmask's tables in schema and its connections named after it."""
    parts = urlsplit(admin_url)
    query = dict(parse_qsl(parts.query))
    query.update(search_path=schema, application_name=schema)
    return urlunsplit(parts._replace(query=urlencode(query)))


async def _execute(admin_url: str, statement: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(admin_url, timeout=10)
    try:
        return list(await conn.fetch(statement))
    finally:
        await conn.close()


def _checked(schema: str) -> str:
    # The name goes into SQL unquoted; only names this module makes are accepted.
    if not schema.startswith(PREFIX) or not schema.replace("_", "").isalnum():
        raise ValueError(f"not a benchmark schema: {schema!r}")
    return schema


def create(admin_url: str, schema: str) -> None:
    asyncio.run(_execute(admin_url, f"CREATE SCHEMA {_checked(schema)}"))


def drop(admin_url: str, schema: str) -> None:
    asyncio.run(_execute(admin_url, f"DROP SCHEMA IF EXISTS {_checked(schema)} CASCADE"))


def analyze(admin_url: str, schema: str) -> None:
    """ANALYZE the schema's tables, as autovacuum would within its first minute or so.

    A fresh schema has no statistics; until it has, PostgreSQL plans callmask's first-free
    lookup as a scan and sort of the whole pool instead of a walk in number order.
    """

    async def run() -> None:
        conn = await asyncpg.connect(admin_url, timeout=10)
        try:
            tables = await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = $1", _checked(schema)
            )
            for row in tables:
                await conn.execute(f'ANALYZE {schema}."{row[0]}"')
        finally:
            await conn.close()

    asyncio.run(run())


def backend_pids(admin_url: str, schema: str) -> list[int]:
    """PIDs of the PostgreSQL backends connected for this schema (named after it)."""
    rows = asyncio.run(
        _execute(
            admin_url,
            "SELECT pid FROM pg_stat_activity"
            f" WHERE application_name = '{_checked(schema)}' ORDER BY pid",
        )
    )
    return [int(row[0]) for row in rows]


def server_version(admin_url: str) -> str:
    rows = asyncio.run(_execute(admin_url, "SHOW server_version"))
    return str(rows[0][0]) if rows else "unknown"


def _state(state: str | None, kind: str | None, event: str | None) -> str:
    """A backend's pg_stat_activity row, in the words of the report."""
    if state == "idle in transaction":
        return "waiting for callmask in a transaction"
    if state == "idle":
        return "idle between transactions"
    if kind is None:
        return "running"
    if "WAL" in (event or ""):
        return "writing or flushing the WAL"
    if kind in ("Lock", "LWLock"):
        return "waiting on a lock"
    if kind == "Client":
        return "reading from or writing to callmask"
    return f"other ({kind})"


# The order of the report's columns.
STATES = (
    "waiting for callmask in a transaction",
    "idle between transactions",
    "reading from or writing to callmask",
    "running",
    "writing or flushing the WAL",
    "waiting on a lock",
)


class Activity:
    """Samples what the schema's backends are doing, every `every_s`, while in a `with`.

    One extra connection, in a thread of its own, so the runner's main thread stays free
    to run wrk; `shares` afterwards gives each state's share of the samples.
    """

    def __init__(self, admin_url: str, schema: str, every_s: float = 0.05) -> None:
        self._url = admin_url
        self._schema = _checked(schema)
        self._every_s = every_s
        self._stop = threading.Event()
        self._counts: Counter[str] = Counter()
        self._thread = threading.Thread(target=self._main, name="pg-activity", daemon=True)
        self.error: str | None = None

    def __enter__(self) -> Activity:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _main(self) -> None:
        try:
            asyncio.run(self._sample())
        except Exception as error:  # the figures are a bonus; never fail the run for them
            self.error = f"{type(error).__name__}: {error}"

    async def _sample(self) -> None:
        conn = await asyncpg.connect(self._url, timeout=10)
        try:
            while not self._stop.is_set():
                rows = await conn.fetch(
                    "SELECT state, wait_event_type, wait_event FROM pg_stat_activity"
                    " WHERE application_name = $1",
                    self._schema,
                )
                for row in rows:
                    self._counts[_state(row[0], row[1], row[2])] += 1
                await asyncio.sleep(self._every_s)
        finally:
            await conn.close()

    @property
    def shares(self) -> dict[str, float]:
        total = sum(self._counts.values())
        return {state: n / total for state, n in self._counts.most_common()} if total else {}
