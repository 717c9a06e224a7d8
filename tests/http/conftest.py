"""What the HTTP tests share on top of the `live` server: paths, parties, and the database file."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager

import httpx
import pytest

from callmask.bootstrap import build_services
from callmask.domain.calls import CallEvent
from callmask.domain.permissions import Permission
from callmask.storage.sqlite import SqliteStore, path_from_url
from tests.conftest import EPOCH, POOL, Live

SET = "/api/v2/Masking/set"
UNSET = "/api/v2/Masking/unset"
ROUTE = "/api/v2/Masking/route"
SSID = "/api/v2/auth/ssid"
MASKLIST = "/api/v2/callreport/masklist/"
MASKING_GET = "/api/v2/Masking/get"
MASKING_LIST = "/api/v2/Masking/list"
DELIVERIES = "/api/v2/webhooks/deliveries"

NOW = int(EPOCH)  # the seeded clock, in Unix seconds

# Valid Indian mobiles, in the E.164 form every answer uses.
A = "+919876543210"
B = "+919812345678"
C = "+919812345679"
D = "+919812345680"
E = "+919812345681"
F = "+919812345682"
G = "+919812345683"
H = "+919812345684"

OTHER_DID = "+918050000000"  # the only pool number of account "other"
DID0, DID1, DID2 = POOL


@contextmanager
def database(live: Live) -> Iterator[sqlite3.Connection]:
    """A second connection to the server's SQLite file, as an operator's sqlite3 shell would be."""
    with closing(sqlite3.connect(path_from_url(live.settings.database_url))) as conn:
        conn.isolation_level = None
        yield conn


def count(live: Live, table: str) -> int:
    with database(live) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def new_ssid(live: Live, user_id: str = "acme", token: str | None = None) -> str:
    answer = live.post(SSID, json={"userId": user_id, "token": token or live.client_token}).json()
    assert answer["status"] == "success", answer
    return str(answer["ssid"])


def post_as(live: Live, path: str, token: str, user_id: str, **params: object) -> dict[str, object]:
    answer: dict[str, object] = live.post(
        path, json={"userId": user_id, "token": token, **params}
    ).json()
    return answer


def assert_error(answer: dict[str, object], code: int, *words: str) -> None:
    """An error envelope with this code whose message mentions every word given."""
    assert answer["status"] == "error", answer
    assert answer["code"] == code, answer
    for word in words:
        assert word in str(answer["message"]), answer


def is_json_answer(response: httpx.Response) -> bool:
    return response.headers.get("content-type") == "application/json; charset=utf-8"


@pytest.fixture
def other_token(live: Live) -> str:
    """A client of account "other": the seeded user's token is not kept, so add one."""

    async def add() -> str:
        store = SqliteStore.from_url(live.settings.database_url)
        try:
            service = build_services(store, live.settings, live.clock)
            return await service.accounts.add_user("other-api", "client", "other")
        finally:
            await store.close()

    return asyncio.run(add())


def add_user(live: Live, user_id: str, account: str, *permissions: Permission) -> str:
    """A client user of an account with exactly these permissions; its token."""

    async def add() -> str:
        store = SqliteStore.from_url(live.settings.database_url)
        try:
            service = build_services(store, live.settings, live.clock)
            return await service.accounts.add_user(
                user_id, "client", account, frozenset(permissions)
            )
        finally:
            await store.close()

    return asyncio.run(add())


@pytest.fixture
def analyst(live: Live) -> str:
    """A user of account acme who may read the call log and maskings, but not set them."""
    return add_user(live, "acme-ops", "acme", Permission.LIST_CALL_LOG, Permission.LIST_MASKING)


def as_analyst(live: Live, token: str, path: str, **params: object) -> dict[str, object]:
    return post_as(live, path, token, "acme-ops", **params)


def record_calls(live: Live, *events: CallEvent) -> None:
    """Call events as the SIP proxy's consumer stores them, through a second connection."""

    async def store_them() -> None:
        store = SqliteStore.from_url(live.settings.database_url)
        try:
            service = build_services(store, live.settings, live.clock)
            for event in events:
                await service.routing.record_call_event(event)
        finally:
            await store.close()

    asyncio.run(store_them())


def set_webhook(live: Live, account: str, url: str) -> str:
    """Point the account's webhook at url, as `callmask webhook set` does; the secret."""

    async def configure() -> str:
        store = SqliteStore.from_url(live.settings.database_url)
        try:
            return await build_services(store, live.settings, live.clock).webhooks.set_webhook(
                account, url
            )
        finally:
            await store.close()

    return asyncio.run(configure())
