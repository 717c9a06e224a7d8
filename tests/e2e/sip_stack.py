"""callmask, Kamailio and sipp on loopback: a real call path for tests and measurements."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import secrets
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from callmask.bootstrap import build_services
from callmask.config import Settings
from callmask.domain.numbers import E164
from callmask.sip.kamailio import KamailioOptions, command, wait_ready, write
from callmask.storage.sqlite import SqliteStore
from tests.e2e.servers import serve, stop
from tests.support import free_port

POOL = [E164(f"+91804000000{i}") for i in range(3)]


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# Media pairs handed out by this process: two free ports, each rounded down to even, may
# name the same pair (49116 and 49117 both give 49116), and the second sipp then cannot bind.
_media_given: set[int] = set()


def free_media_port() -> int:
    """An even UDP port free with the odd one above it (RTP and RTCP), not given before."""
    while True:
        port = free_udp_port() & ~1
        if port in _media_given:
            continue
        with (
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rtp,
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rtcp,
        ):
            try:
                rtp.bind(("127.0.0.1", port))
                rtcp.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        _media_given.add(port)
        return port


@dataclass
class Stack:
    folder: Path
    api: str
    client_token: str
    sip_port: int
    gateway_port: int
    database_url: str
    events_queue: str
    kamailio: subprocess.Popen[bytes]

    def masking(self, m1: str, m2: str, minutes: int = 60, **extra: object) -> dict[str, object]:
        import httpx

        answer: dict[str, object] = httpx.post(
            self.api + "/api/v2/Masking/set",
            json={
                "userId": "acme",
                "token": self.client_token,
                "m1": m1,
                "m2": m2,
                "expiry_duration": minutes,
                "eventId": f"order-{m1[-4:]}",
                **extra,
            },
            timeout=10,
        ).json()
        assert answer["status"] == "success", answer
        return answer

    def statistic(self, name: str) -> int:
        """One of the proxy's counters, read through its control socket."""
        done = subprocess.run(
            ["kamcmd", "-s", f"unix:{self.folder / 'kamailio.ctl'}", "stats.get_statistics", name],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        found = re.search(rf"{name} = (\d+)", done.stdout)
        assert found is not None, done.stdout + done.stderr
        return int(found.group(1))

    def route_lookups(self) -> float:
        """Route lookups callmask has answered, from its metrics."""
        import httpx

        text = httpx.get(self.api + "/metrics", timeout=10).text
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("callmask_http_requests_total{") and "Masking/route" in line
        )

    def unset(self, **selectors: str) -> dict[str, object]:
        import httpx

        answer: dict[str, object] = httpx.post(
            self.api + "/api/v2/Masking/unset",
            json={"userId": "acme", "token": self.client_token, **selectors},
            timeout=10,
        ).json()
        assert answer["status"] == "success", answer
        return answer


async def _seed(database_url: str) -> tuple[str, str]:
    store = SqliteStore.from_url(database_url)
    try:
        await store.migrate()
        service = build_services(store, Settings())
        client = await service.accounts.add_user("acme", "client")
        router = await service.accounts.add_user("sip", "router")
        await store.add_pool_numbers("acme", POOL, service.now_ms())
        return client, router
    finally:
        await store.close()


@contextmanager
def kamailio_running(
    options: KamailioOptions, folder: Path, port: int
) -> Iterator[subprocess.Popen[bytes]]:
    config = write(options, folder / "kamailio.cfg")
    log = (folder / "kamailio.log").open("wb")
    process = subprocess.Popen(command(config, shared_mb=256), stdout=log, stderr=log, cwd=folder)
    try:
        wait_ready(port)
        yield process
    finally:
        stop(process, grace_s=15)
        log.close()


@contextmanager
def sip_stack(
    folder: Path,
    callmask_up: bool = True,
    trusted: tuple[str, ...] = (),
    first_gateway: str = "",
    first_api: str = "",
    kamailio: dict[str, Any] | None = None,
    gateway_host: str = "127.0.0.1",
    **env: str,
) -> Iterator[Stack]:
    """callmask serving a seeded database and Kamailio in front of it. first_gateway and
    first_api put another gateway or API host ahead of the working one (to fail over from);
    kamailio overrides other options of the proxy."""
    database_url = f"sqlite:///{folder / 'calls.db'}"
    client, router = asyncio.run(_seed(database_url))
    queue = f"callmask:test:{secrets.token_hex(4)}"
    sip_port, gateway_port = free_udp_port(), free_udp_port()
    settings = {
        "CALLMASK_EVENTS_REDIS_URL": "redis://127.0.0.1:6379",
        "CALLMASK_EVENTS_QUEUE": queue,
        **env,
    }
    with serve(database_url, **settings) if callmask_up else _nothing() as served:
        api = served.url if served is not None else f"http://127.0.0.1:{free_port()}"
        options = KamailioOptions(
            router_user="sip",
            router_token=router,
            listen=f"udp:127.0.0.1:{sip_port}",
            api_urls=tuple(url for url in (first_api, api) if url),
            gateways=tuple(gw for gw in (first_gateway, f"{gateway_host}:{gateway_port}") if gw),
            control_socket=str(folder / "kamailio.ctl"),
            events_queue=queue,
            trusted_pai_sources=trusted,
            children=4,
            debug=int(os.environ.get("CALLMASK_TEST_KAMAILIO_DEBUG", "1")),
        )
        options = dataclasses.replace(options, **(kamailio or {}))
        try:
            with kamailio_running(options, folder, sip_port) as process:
                yield Stack(
                    folder, api, client, sip_port, gateway_port, database_url, queue, process
                )
        finally:
            _drop_queue(queue)


def _drop_queue(queue: str) -> None:
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379)
    try:
        client.delete(queue, queue + ":processing", queue + ":dead")
    finally:
        client.close()


@contextmanager
def _nothing() -> Iterator[None]:
    yield None
