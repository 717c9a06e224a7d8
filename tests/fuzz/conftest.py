"""The fuzz suite's server: the shared `live` fixture, with failed-auth lockouts off.

The fuzzer sends wrong credentials on purpose, hundreds of times from one address; with the
lockout on, every later request would be answered 429 and nothing past authentication would
be exercised. Rate limits stay as configured (far above what one fuzzer sends).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Iterator

import pytest

from callmask.bootstrap import build_services
from callmask.config import Settings
from callmask.domain.calls import CallEvent
from callmask.domain.numbers import E164
from callmask.domain.permissions import Permission
from callmask.storage.sqlite import SqliteStore
from tests.support import Live, Users, record_calls

# Maskings made before fuzzing, so unset, get, list, route and the report find something.
SEEDED = [
    ("+919876543210", "+919812345678", "order-1"),
    ("+919812345679", "+919812345680", "order-2"),
    ("+919876543210", "+919812345679", ""),
]

# Present once the rate-limit work lands; set only the fields this Settings has.
_LOCKOUTS_OFF = {"auth_fail_limit_ip": 0, "auth_fail_limit_user": 0}


@pytest.fixture(autouse=True)
def _quiet_urllib3() -> Iterator[None]:
    """Schemathesis sends through requests, whose urllib3 logs each URL and answer size at
    DEBUG: the route's query string carries numbers, and the run-wide leak check would read
    them (and byte counts) as logged phone numbers. The tests' own client, not callmask."""
    logger = logging.getLogger("urllib3")
    level = logger.level
    logger.setLevel(logging.WARNING)
    yield
    logger.setLevel(level)


@pytest.fixture
def settings(db_url: str) -> Settings:
    known = {field.name for field in dataclasses.fields(Settings)}
    off = {name: value for name, value in _LOCKOUTS_OFF.items() if name in known}
    return Settings(database_url=db_url, sweep_interval_seconds=3600, **off)  # type: ignore[arg-type]


@pytest.fixture
def users(live: Live) -> Users:
    async def add() -> str:
        store = SqliteStore.from_url(live.settings.database_url)
        try:
            service = build_services(store, live.settings, live.clock)
            return await service.accounts.add_user(
                "acme-ops", "client", "acme", frozenset(Permission)
            )
        finally:
            await store.close()

    analyst = asyncio.run(add())
    answer = live.post(
        "/api/v2/auth/ssid", json={"userId": "acme", "token": live.client_token}
    ).json()
    assert answer["status"] == "success", answer
    masking_ids = []
    for m1, m2, event_id in SEEDED:
        made = live.set(m1=m1, m2=m2, eventId=event_id, expiry_duration=600)
        assert made["status"] == "success", made
        masking_ids.append(str(made["maskingId"]))
    first = live.set(m1=SEEDED[0][0], m2=SEEDED[0][1], eventId=SEEDED[0][2])
    at_ms = int(live.clock() * 1000)
    record_calls(
        live,
        CallEvent(
            "start",
            "fuzz-call-1",
            at_ms,
            masking_ids[0],
            E164(str(first["mask"])),
            E164(SEEDED[0][0]),
            E164(SEEDED[0][1]),
        ),
        CallEvent("answer", "fuzz-call-1", at_ms + 2000, sip_status=200),
        CallEvent("end", "fuzz-call-1", at_ms + 44_000, duration_s=42),
    )
    return Users(analyst, str(answer["ssid"]), masking_ids)
