"""What tests share: the settable clock, the live server, the numbers and requests they use.

Helpers live here, not in conftest modules or test modules, so no test imports another.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from callmask.bootstrap import build_services
from callmask.config import Settings
from callmask.domain.calls import CallEvent
from callmask.domain.errors import Code
from callmask.domain.numbers import E164
from callmask.domain.permissions import Permission
from callmask.domain.recordings import file_name
from callmask.service import Services
from callmask.service.accounts import Principal
from callmask.storage.base import Store
from callmask.storage.sqlite import SqliteStore, path_from_url

# 2026-01-01T00:00:00Z: tests run on this clock, moved by hand.
EPOCH = 1767225600.0


@dataclass
class Clock:
    now: float = EPOCH

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Live:
    """A running server plus the credentials seeded into its database."""

    url: str
    clock: Clock
    settings: Settings
    client_token: str
    router_token: str
    pool: list[str]
    http: httpx.Client = field(repr=False)

    def post(self, path: str, **kwargs: object) -> httpx.Response:
        return self.http.post(self.url + path, **kwargs)  # type: ignore[arg-type]

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        return self.http.get(self.url + path, **kwargs)  # type: ignore[arg-type]

    def auth(self, **params: object) -> dict[str, object]:
        return {"userId": "acme", "token": self.client_token, **params}

    def set(self, **params: object) -> dict[str, object]:
        answer: dict[str, object] = self.post(
            "/api/v2/Masking/set", json=self.auth(**params)
        ).json()
        return answer

    def unset(self, **params: object) -> dict[str, object]:
        answer: dict[str, object] = self.post(
            "/api/v2/Masking/unset", json=self.auth(**params)
        ).json()
        return answer

    def route(self, caller: str, mask: str) -> dict[str, object]:
        answer: dict[str, object] = self.get(
            "/api/v2/Masking/route",
            params={"caller": caller, "mask": mask},
            headers={"Authorization": f"Bearer {self.router_token}"},
        ).json()
        return answer


POOL = ["+918040000000", "+918040000001", "+918040000002"]


async def seed_live(settings: Settings, clock: Clock, pool: list[str]) -> tuple[str, str]:
    store = SqliteStore.from_url(settings.database_url)
    try:
        await store.migrate()
        service = build_services(store, settings, clock)
        client = await service.accounts.add_user("acme", "client")
        router = await service.accounts.add_user("sip", "router")
        await service.accounts.add_user("other", "client")
        from callmask.domain.numbers import E164

        await store.add_pool_numbers("acme", [E164(n) for n in pool], service.now_ms())
        await store.add_pool_numbers("other", [E164("+918050000000")], service.now_ms())
        return client, router
    finally:
        await store.close()


@contextmanager
def serving(app: Starlette) -> Iterator[str]:
    """The app under uvicorn (httptools, uvloop) on a free loopback port, in a thread;
    yields its base URL."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=free_port(),
        access_log=False,
        log_level="warning",
        loop="uvloop",
        http="httptools",
        lifespan="on",
        # As `serve` runs it: the app alone decides whose X-Forwarded-For it believes.
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def principal(account: str = "acme", role: str = "client") -> Principal:
    return Principal(account, account, role)


SET = "/api/v2/Masking/set"


UNSET = "/api/v2/Masking/unset"


ROUTE = "/api/v2/Masking/route"


CALL_EVENT = "/api/v2/Masking/callEvent"


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


# Every limit off unless a test turns it on, so each test sees only the one it is about.
OFF = {
    "rate_limit_ip_per_second": 0.0,
    "rate_limit_account_per_second": 0.0,
    "auth_fail_limit_ip": 0,
    "auth_fail_limit_user": 0,
}


def limits(**chosen: object) -> pytest.MarkDecorator:
    """Run the test's live server with these settings (the rest of the limits off)."""
    return pytest.mark.parametrize("settings", [chosen], indirect=True, ids=["limits"])


def post_from(
    live: Live, address: str, path: str, body: dict[str, object] | None = None
) -> httpx.Response:
    """A request as if from address, through a proxy on 127.0.0.1 (tests/abuse trusts it)."""
    return live.post(path, json=body or {}, headers={"X-Forwarded-For": address})


def route_from(
    live: Live, address: str, params: dict[str, str], bearer: str | None = None
) -> httpx.Response:
    headers = {"X-Forwarded-For": address}
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    return live.get("/api/v2/Masking/route", params=params, headers=headers)


def event_from(
    live: Live, address: str, event: dict[str, object], bearer: str | None = None
) -> httpx.Response:
    """A call event posted as the SIP proxy posts it, from address; the router's token."""
    headers = {"X-Forwarded-For": address, "Authorization": f"Bearer {bearer or live.router_token}"}
    return live.post(CALL_EVENT, json=event, headers=headers)


# An address of the documentation range, as a client behind the trusted proxy.
ADDRESS = "198.51.100.7"


def assert_limited(response: httpx.Response, *words: str) -> None:
    assert response.status_code == 429, response.text
    assert is_json_answer(response)
    assert int(response.headers["Retry-After"]) >= 1
    answer = response.json()
    assert answer["status"] == "error" and answer["code"] == Code.TOO_MANY_REQUESTS == 1029
    for word in words:
        assert word in answer["message"], answer


def listing(
    live: Live, address: str = ADDRESS, user: str = "acme", token: str = ""
) -> httpx.Response:
    body = {"userId": user, "token": token or live.client_token}
    return post_from(live, address, MASKING_LIST, body)


@dataclass(frozen=True)
class Users:
    """Real credentials on the live server, besides the seeded acme client and sip router."""

    analyst_token: str  # acme-ops: every permission, LIST_CALL_LOG included
    ssid: str  # a session of the acme client
    masking_ids: list[str]  # live maskings of acme, the first with a completed call


async def seed_store(store: Store, service: Services, clock: Clock) -> tuple[str, str]:
    """acme (client, pool of three), sip (router), other (client, pool of one)."""
    client = await service.accounts.add_user("acme", "client")
    router = await service.accounts.add_user("sip", "router")
    await service.accounts.add_user("other", "client")
    now = int(clock() * 1000)
    await store.add_pool_numbers("acme", POOL, now)
    await store.add_pool_numbers("other", [E164("+918050000000")], now)
    return client, router


VIOLATIONS = """
    SELECT mask, party FROM (
        SELECT mask, m1 AS party FROM maskings WHERE ended_ms IS NULL AND expires_ms > ?
        UNION ALL
        SELECT mask, m2 FROM maskings WHERE ended_ms IS NULL AND expires_ms > ?
    ) AS live GROUP BY mask, party HAVING count(*) > 1
"""


# Two maskings that held one number for one party at the same moment, by the stored history:
# [created_ms, end) intersect, where end is when it ended, else when it expires.
OVERLAPS = """
    SELECT a.masking_id, b.masking_id, b.created_ms - a.created_ms
    FROM maskings a JOIN maskings b
      ON b.mask = a.mask AND a.masking_id < b.masking_id
     AND (b.m1 IN (a.m1, a.m2) OR b.m2 IN (a.m1, a.m2))
    WHERE a.created_ms < coalesce(b.ended_ms, b.expires_ms)
      AND b.created_ms < coalesce(a.ended_ms, a.expires_ms)
"""


HALF_WRITTEN = """
    SELECT m.masking_id FROM maskings m
    WHERE m.ended_ms IS NULL
      AND (SELECT count(*) FROM claims c WHERE c.masking_id = m.masking_id) <> 2
    UNION ALL
    SELECT c.masking_id FROM claims c LEFT JOIN maskings m ON m.masking_id = c.masking_id
    WHERE m.masking_id IS NULL OR m.ended_ms IS NOT NULL
"""


def run_cli(settings: Settings, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """The real CLI with these settings: its exit status and everything it printed."""
    from callmask.cli import main

    status = main(list(argv), settings=settings)
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A throwaway certificate and key for 127.0.0.1 (openssl), for TLS listeners in tests."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"]
        + ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


# -- tests/client: calls and recordings behind a masking set through the API ----------------


def completed_calls(live: Live, masking: dict[str, str], count: int) -> list[str]:
    """`count` completed calls through the masking (a dict of its JSON fields), a second apart
    before the server's now; their ids."""
    ids = [f"call-{n}" for n in range(count)]
    mask, caller, callee = E164(masking["mask"]), E164(masking["m1"]), E164(masking["m2"])
    events = []
    for n, call_id in enumerate(ids):
        start = (NOW - 600 + n) * 1000
        events += [
            CallEvent("start", call_id, start, masking["maskingId"], mask, caller, callee),
            CallEvent("answer", call_id, start + 100, sip_status=200),
            CallEvent("end", call_id, start + 500, duration_s=1, sip_status=200),
        ]
    record_calls(live, *events)
    return ids


def recorded_call(
    live: Live,
    masking: dict[str, str],
    call_id: str,
    start: int = (NOW - 60) * 1000,
    audio: bytes | None = None,
) -> tuple[str, bytes]:
    """A recorded call through the masking, started at start (ms), whose audio (random bytes
    unless given) is ready: its recording id and bytes."""
    mask, caller, callee = E164(masking["mask"]), E164(masking["m1"]), E164(masking["m2"])
    record_calls(
        live,
        CallEvent("start", call_id, start, masking["maskingId"], mask, caller, callee),
        CallEvent("answer", call_id, start + 2000, sip_status=200),
        CallEvent("recording", call_id, start + 2000, recording="started"),
        CallEvent("end", call_id, start + 50_000, duration_s=48, sip_status=200),
    )
    audio = audio if audio is not None else b"RIFF" + os.urandom(4_000)

    async def finish() -> str:
        store = SqliteStore.from_url(live.settings.database_url)
        try:
            services = build_services(store, live.settings, live.clock)
            recording = await services.recordings.of_call(call_id)
            assert recording is not None
            name = file_name("acme", recording.recording_id)
            path = Path(live.settings.recordings_dir) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(audio)
            done = await services.recordings.finish(
                recording, file=name, duration_ms=2_480, size=len(audio)
            )
            assert done is not None
            return recording.recording_id
        finally:
            await store.close()

    return asyncio.run(finish()), audio
