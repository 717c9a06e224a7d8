"""Call events the SIP proxy posts to Masking/callEvent, on both backends, over a real socket."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from callmask.bootstrap import build_services, create_app
from callmask.config import Settings
from callmask.domain.errors import Code
from tests.backends import BACKENDS, Database, fresh_store
from tests.support import (
    CALL_EVENT,
    DID0,
    EPOCH,
    OFF,
    SET,
    SSID,
    A,
    B,
    Clock,
    Live,
    assert_error,
    count,
    seed_store,
    serving,
)

pytestmark = pytest.mark.anyio

TS = int(EPOCH * 1000) + 1_000
ROW = (
    "SELECT account_id, masking_id, event_id, mask, caller, callee, started_ms, answered_ms,"
    " ended_ms, duration_s, sip_status, outcome, updated_ms FROM calls WHERE call_id = ?"
)


def start(call_id: str, masking_id: str, **fields: object) -> dict[str, object]:
    """A start event as the shipped Kamailio configuration writes it (lookupUs included)."""
    return {
        "event": "start",
        "callId": call_id,
        "maskingId": masking_id,
        "mask": DID0,
        "caller": A,
        "callee": B,
        "lookupUs": 1234,
        "ts": TS,
        **fields,
    }


@dataclass
class Served:
    """The app on a real socket over a fresh database, with a live masking of acme."""

    url: str
    database: Database
    clock: Clock
    router_token: str
    client_token: str
    masking_id: str
    http: httpx.AsyncClient = field(repr=False)

    async def post(
        self,
        event: dict[str, object] | bytes,
        token: str | None = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        """The event as Kamailio posts it: the body, the router's token in the URL."""
        body = event if isinstance(event, bytes) else orjson.dumps(event)
        response = await self.http.post(
            self.url + CALL_EVENT,
            params={"userId": "sip", "token": token or self.router_token},
            content=body,
            headers={"Content-Type": content_type},
        )
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def row(self, call_id: str) -> tuple[Any, ...] | None:
        rows = await self.database.rows(ROW, call_id)
        return rows[0] if rows else None


@pytest.fixture(params=BACKENDS)
async def served(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Served]:
    clock = Clock()
    async with fresh_store(request.param, tmp_path) as (store, database):
        client, router = await seed_store(store, build_services(store, Settings(), clock), clock)
        await store.close()
        # A short database timeout, so a locked table answers 1010 quickly on PostgreSQL.
        settings = Settings(
            database_url=database.url,
            sweep_interval_seconds=3600,
            db_timeout_seconds=0.5,
            **OFF,  # type: ignore[arg-type]
        )
        with serving(create_app(settings, clock=clock)) as url:
            async with httpx.AsyncClient(timeout=15) as http:
                answer = (
                    await http.post(
                        url + SET,
                        json={"userId": "acme", "token": client, "m1": A, "m2": B,
                              "eventId": "order-1"},
                    )
                ).json()  # fmt: skip
                assert answer["status"] == "success", answer
                yield Served(url, database, clock, router, client, answer["maskingId"], http)


async def test_a_posted_call_is_stored_linked_to_its_masking(served: Served) -> None:
    events: list[dict[str, object]] = [
        start("call-1", served.masking_id),
        {"event": "answer", "callId": "call-1", "ts": TS + 2_000},
        # A cause is not stored (yet): the event is, as it would be from the queue.
        {"event": "end", "callId": "call-1", "duration": 42, "cause": "limit", "ts": TS + 44_000},
    ]
    for event in events:
        answer = await served.post(event)
        assert answer == {
            "status": "success",
            "code": 200,
            "message": "call event stored",
            "event": event["event"],
            "callId": "call-1",
        }
    assert await served.row("call-1") == (
        "acme",
        served.masking_id,
        "order-1",
        DID0,
        A,
        B,
        TS,
        TS + 2_000,
        TS + 44_000,
        42,
        200,
        "completed",
        int(EPOCH * 1000),
    )


async def test_a_failed_call_is_stored_with_its_status(served: Served) -> None:
    await served.post(start("call-2", served.masking_id))
    answer = await served.post({"event": "failed", "callId": "call-2", "status": 486, "ts": TS})
    assert answer["status"] == "success", answer
    row = await served.row("call-2")
    assert row is not None and row[9:12] == (0, 486, "failed")


async def test_posting_an_event_again_changes_nothing(served: Served) -> None:
    first = start("call-3", served.masking_id)
    end = {"event": "end", "callId": "call-3", "duration": 7, "ts": TS + 9_000}
    assert (await served.post(first))["status"] == "success"
    assert (await served.post(end))["status"] == "success"
    stored = await served.row("call-3")
    served.clock.advance(60)  # a rewrite would show in updated_ms
    for event in (first, end, first):
        assert (await served.post(event))["status"] == "success"
    assert await served.row("call-3") == stored
    assert await served.database.rows("SELECT count(*) FROM calls") == [(1,)]


MALFORMED: list[tuple[str, bytes, int, str]] = [
    ("not JSON", b"event=start", Code.INVALID_REQUEST_DATA, "not JSON"),
    ("empty", b"", Code.INVALID_REQUEST_DATA, "not JSON"),
    ("an array", b"[]", Code.INVALID_REQUEST_DATA, "not a JSON object"),
    ("two events", b'[{"event":"answer","callId":"c","ts":1767225601000}]', 1047, "object"),
    ("an unknown kind", b'{"event":"ring","callId":"c","ts":1767225601000}', 1000, "event"),
    ("no callId", b'{"event":"answer","ts":1767225601000}', 1000, "callId"),
    ("seconds, not ms", b'{"event":"answer","callId":"c","ts":1767225601}', 1000, "ts"),
    ("beyond year 9999", b'{"event":"answer","callId":"c","ts":253402300800000}', 1000, "ts"),
    ("a quoted duration", b'{"event":"end","callId":"c","duration":"4","ts":1767225601000}',
     1000, "duration"),
    ("a 2xx failure", b'{"event":"failed","callId":"c","status":200,"ts":1767225601000}',
     1000, "status"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "code", "word"),
    [case[1:] for case in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
async def test_a_malformed_event_answers_the_parser_code_and_stores_nothing(
    served: Served, body: bytes, code: int, word: str
) -> None:
    assert_error(await served.post(body), code, word)
    assert await served.database.rows("SELECT count(*) FROM calls") == [(0,)]


async def test_a_malformed_number_is_named_by_its_last_four_digits_only(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="callmask")
    national = "09876543210"
    answer = await served.post(start("call-4", served.masking_id, caller=national))
    assert_error(answer, Code.INVALID_PARAMETERS, "caller", "…3210")
    assert national[1:] not in str(answer)
    logged = [r.getMessage() for r in caplog.records if r.name == "callmask.events"]
    assert logged and "…3210" in logged[0] and national[1:] not in logged[0]
    assert await served.row("call-4") is None


@contextmanager
def _sqlite_write_lock(database: Database) -> Iterator[None]:
    """Another process's open write transaction on the file, as a stuck `callmask` CLI's."""
    conn = sqlite3.connect(database.url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield
        conn.execute("ROLLBACK")
    finally:
        conn.close()


@asynccontextmanager
async def _refusing(served: Served) -> AsyncIterator[None]:
    """The database refusing writes to calls until the block ends."""
    if served.database.kind == "sqlite":
        with _sqlite_write_lock(served.database):
            yield
        return
    blocker = await asyncpg.connect(served.database.url)
    try:
        async with blocker.transaction():
            await blocker.execute("LOCK TABLE calls IN ACCESS EXCLUSIVE MODE")
            yield
    finally:
        await blocker.close()


async def test_an_event_the_database_refuses_answers_1010_and_a_retry_stores_it(
    served: Served,
) -> None:
    event = start("call-5", served.masking_id)
    async with _refusing(served):
        # SQLite waits out its busy timeout (5 s) first; PostgreSQL the statement's (0.5 s).
        assert_error(await served.post(event), Code.DATABASE_UNAVAILABLE)
    assert await served.row("call-5") is None
    assert (await served.post(event))["status"] == "success"
    row = await served.row("call-5")
    assert row is not None and row[11] == "ringing"


# -- who may post, and how (the SQLite `live` server: storage plays no part) ------------------


def _post(live: Live, body: bytes, **kwargs: Any) -> dict[str, Any]:
    answer: dict[str, Any] = live.post(CALL_EVENT, content=body, **kwargs).json()
    return answer


EVENT = orjson.dumps({"event": "failed", "callId": "call-9", "status": 404, "ts": TS})


def test_the_router_may_post_with_a_bearer_token_and_as_text_or_form(live: Live) -> None:
    bearer = {"Authorization": f"Bearer {live.router_token}"}
    for content_type in ("application/json", "text/plain", "application/x-www-form-urlencoded"):
        answer = _post(live, EVENT, headers={**bearer, "Content-Type": content_type})
        assert answer["status"] == "success", (content_type, answer)
    assert count(live, "calls") == 1


def test_a_client_is_refused_1015_in_every_form_and_nothing_is_stored(live: Live) -> None:
    ssid = live.post(SSID, json=live.auth()).json()["ssid"]
    answers = [
        _post(live, EVENT, headers={"Authorization": f"Bearer {live.client_token}"}),
        _post(live, EVENT, params={"userId": "acme", "token": live.client_token}),
        _post(live, EVENT, params={"ssid": ssid}),
    ]
    for answer in answers:
        assert_error(answer, Code.PERMISSION_DENIED, "router")
    assert count(live, "calls") == 0


def test_credentials_are_read_from_the_url_or_header_only(live: Live) -> None:
    # The body is the event: credentials in it are not looked at.
    in_body = orjson.dumps({**orjson.loads(EVENT), "userId": "sip", "token": live.router_token})
    assert_error(_post(live, in_body), Code.INVALID_TOKEN)
    assert_error(_post(live, EVENT, params={"userId": "sip", "token": "guess"}), 1014)
    assert_error(_post(live, EVENT, headers={"Authorization": "Bearer guess"}), 1014)
    assert count(live, "calls") == 0


def test_two_kinds_of_credentials_are_1000_and_nothing_is_stored(live: Live) -> None:
    bearer = {"Authorization": f"Bearer {live.router_token}"}
    by_token = {"userId": "sip", "token": live.router_token}
    ssid = live.post(SSID, json=live.auth()).json()["ssid"]
    for params in (by_token, {"ssid": ssid}, {"token": "guess"}):
        answer = _post(live, EVENT, params=params, headers=bearer)
        assert_error(answer, Code.INVALID_PARAMETERS, "one kind of credentials")
    assert count(live, "calls") == 0


def test_a_body_over_the_limit_is_refused_1047_unread(live: Live) -> None:
    padded = EVENT[:-1] + b', "pad": "' + b"x" * live.settings.max_body_bytes + b'"}'
    answer = _post(live, padded, params={"userId": "sip", "token": live.router_token})
    assert_error(answer, Code.INVALID_REQUEST_DATA, "too large")
    assert count(live, "calls") == 0


def test_get_is_not_allowed(live: Live) -> None:
    response = live.get(CALL_EVENT, params={"userId": "sip", "token": live.router_token})
    assert response.status_code == 405
    assert_error(response.json(), Code.INVALID_PARAMETERS, "method")
