"""Control characters in text parameters, on both backends over a real socket: 1000 naming the
field (1014 in credentials, counted as a failed login), nothing stored, nothing logged as a
failure. PostgreSQL refuses a NUL in text, so it once answered 1009 with a traceback, or 1010."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from callmask.bootstrap import build_services, create_app
from callmask.config import Settings
from callmask.domain.errors import Code
from callmask.domain.paging import Cursor
from callmask.domain.permissions import Permission
from tests.backends import BACKENDS, Database, fresh_store
from tests.support import (
    DELIVERIES,
    MASKING_GET,
    MASKING_LIST,
    MASKLIST,
    OFF,
    SET,
    SSID,
    A,
    B,
    Clock,
    assert_error,
    seed_store,
    serving,
)

pytestmark = pytest.mark.anyio

# C0 (NUL first: PostgreSQL refuses it), DEL and C1; each inside the value, not at its ends,
# which are stripped as whitespace for some of them.
CONTROLS = ["\x00", "\x01", "\x1b", "\x7f", "\x85", "\x9b"]
RECORDING = "/api/v2/callreport/recording"


class Server:
    def __init__(self, url: str, database: Database, token: str, http: httpx.AsyncClient) -> None:
        self.url, self.database, self.token, self.http = url, database, token, http

    async def post(self, path: str, **params: object) -> dict[str, Any]:
        body = {"userId": "ops", "token": self.token, **params}
        response = await self.http.post(self.url + path, json=body)
        assert response.status_code in (200, 429), response.text
        answer: dict[str, Any] = response.json()
        return answer


@asynccontextmanager
async def served(kind: str, folder: Path, **chosen: object) -> AsyncIterator[Server]:
    clock = Clock()
    async with fresh_store(kind, folder) as (store, database):
        services = build_services(store, Settings(), clock)
        await seed_store(store, services, clock)
        # Every permission: each endpoint's parameters are reached.
        token = await services.accounts.add_user("ops", "client", "acme", frozenset(Permission))
        await store.close()
        settings = Settings(
            database_url=database.url,
            sweep_interval_seconds=3600,
            **{**OFF, **chosen},  # type: ignore[arg-type]
        )
        with serving(create_app(settings, clock=clock)) as url:
            async with httpx.AsyncClient(timeout=15) as http:
                yield Server(url, database, token, http)


@pytest.fixture(params=BACKENDS)
async def server(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Server]:
    async with served(request.param, tmp_path) as opened:
        yield opened


@pytest.fixture
def failures(caplog: pytest.LogCaptureFixture) -> Iterator[list[logging.LogRecord]]:
    """Records a refused parameter must not produce: warnings and worse, and tracebacks."""
    caplog.set_level(logging.DEBUG)
    found: list[logging.LogRecord] = []
    yield found
    found.extend(r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info)


def _cursor_with(control: str) -> str:
    return Cursor(1767225600000, f"m{control}x").encode()


@pytest.mark.parametrize("control", CONTROLS, ids=[f"{ord(c):#04x}" for c in CONTROLS])
async def test_a_control_character_in_a_text_parameter_answers_1000_naming_it(
    server: Server, control: str, failures: list[logging.LogRecord]
) -> None:
    cases: list[tuple[str, dict[str, object], str]] = [
        (SET, {"m1": A, "m2": B, "eventId": f"order{control}1"}, "eventId"),
        (MASKING_GET, {"maskingId": f"m{control}1"}, "maskingId"),
        (MASKING_GET, {"eventId": f"order{control}1"}, "eventId"),
        (MASKING_LIST, {"eventId": f"order{control}1"}, "eventId"),
        (MASKING_LIST, {"cursor": _cursor_with(control)}, "cursor"),
        (MASKLIST, {"maskingId": f"m{control}1"}, "maskingId"),
        (MASKLIST, {"cursor": _cursor_with(control)}, "cursor"),
        (DELIVERIES, {"id": f"d{control}1"}, "id"),
        (RECORDING, {"id": f"r{control}1"}, "id"),
    ]
    for path, params, field in cases:
        assert_error(await server.post(path, **params), Code.INVALID_PARAMETERS, field)
    assert await server.database.rows("SELECT count(*) FROM maskings") == [(0,)]
    assert failures == []


@pytest.mark.parametrize("control", CONTROLS, ids=[f"{ord(c):#04x}" for c in CONTROLS])
async def test_a_control_character_in_credentials_answers_1014_naming_it(
    server: Server, control: str, failures: list[logging.LogRecord]
) -> None:
    for params, field in (
        ({"userId": f"op{control}s"}, "userId"),
        ({"token": f"{server.token[:5]}{control}{server.token[5:]}"}, "token"),
    ):
        assert_error(await server.post(MASKING_LIST, **params), Code.INVALID_TOKEN, field)
    answer = (await server.http.post(server.url + SSID, json={"ssid": f"s{control}1"})).json()
    # auth/ssid refuses an ssid whatever it holds; another endpoint reads it as credentials.
    assert_error(answer, Code.INVALID_PARAMETERS)
    answer = (
        await server.http.post(server.url + MASKING_LIST, json={"ssid": f"s{control}1"})
    ).json()
    assert_error(answer, Code.INVALID_TOKEN, "ssid")
    assert failures == []


@pytest.mark.parametrize("kind", BACKENDS)
async def test_a_nul_in_credentials_counts_toward_the_failed_login_lockout(
    kind: str, tmp_path: Path, failures: list[logging.LogRecord]
) -> None:
    async with served(kind, tmp_path, auth_fail_limit_ip=3) as server:
        for _ in range(3):
            answer = await server.post(MASKING_LIST, userId="op\x00s")
            assert_error(answer, Code.INVALID_TOKEN, "userId")
        # Locked out: even the right credentials are refused now.
        assert_error(await server.post(MASKING_LIST), Code.TOO_MANY_REQUESTS)
    assert [r for r in failures if r.levelno > logging.WARNING or r.exc_info] == []
