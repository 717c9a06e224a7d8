"""Placing real calls through a running stack (sip_stack.py) with sipp, and reading what
they left: the helpers the SIP end-to-end tests share."""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import time

import redis

from callmask.cli import main
from callmask.config import Settings
from tests.e2e import sipp
from tests.e2e.sip_stack import Stack, free_media_port, free_udp_port

M1, M2, STRANGER = "+919876543210", "+919812345678", "+919700000001"


def call(
    stack: Stack,
    caller: str,
    callee: str,
    did: str,
    final: int = 200,
    answer: int | None = 200,
    talk_ms: int = 300,
    hangup: str = "caller",
    from_user: str | None = None,
) -> None:
    """Place one call; the callee side runs only when the call should reach it."""
    folder = stack.folder
    uas = None
    if answer is not None:
        uas = sipp.start(
            sipp.callee(callee, did, caller, final=answer, hangup=hangup),
            folder,
            "callee",
            stack.gateway_port,
            free_media_port(),
        )
    uac = sipp.start(
        sipp.caller(
            caller, did, callee, final=final, talk_ms=talk_ms, hangup=hangup, from_user=from_user
        ),
        folder,
        "caller",
        free_udp_port(),
        free_media_port(),
        remote=f"127.0.0.1:{stack.sip_port}",
        call_id_prefix=caller,
    )
    caller_status = uac.wait()
    callee_status = uas.wait() if uas is not None else 0
    assert caller_status == 0, uac.errors() + (uas.errors() if uas else "")
    assert callee_status == 0, uas.errors() if uas else ""


def stored(stack: Stack, caller: str) -> list[dict[str, object]]:
    """Every call record of this caller: by its caller column, or by its Call-ID (which the
    caller's sipp starts with its number), whichever the consumer filled in."""
    path = stack.database_url.removeprefix("sqlite:///")
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        found = conn.execute(
            "SELECT * FROM calls WHERE caller = ? OR call_id LIKE ?", (caller, caller + "-%")
        )
        return [dict(row) for row in found]
    finally:
        conn.close()


def records(
    stack: Stack, caller: str, settled: str, seconds: float = 15
) -> list[dict[str, object]]:
    """The call records of this caller, once the consumer has stored one with this outcome;
    failing if it has not within seconds."""
    deadline = time.monotonic() + seconds
    while True:
        rows = stored(stack, caller)
        if any(row["outcome"] == settled for row in rows):
            return rows
        assert time.monotonic() < deadline, f"no {settled} call of {caller} stored: {rows}"
        time.sleep(0.1)


def queued(stack: Stack) -> tuple[int, int, int]:
    """Events waiting, being stored (or left there by a failed store), and refused as
    malformed: the lengths of the events queue, its processing list and its dead list."""
    client = redis.Redis(host="127.0.0.1", port=6379)
    try:
        queue = stack.events_queue
        return (
            int(client.llen(queue)),
            int(client.llen(queue + ":processing")),
            int(client.llen(queue + ":dead")),
        )
    finally:
        client.close()


def run_pair(
    stack: Stack,
    callee_xml: str | None,
    caller_xml: str,
    caller_ip: str = "127.0.0.1",
    callee_ip: str = "127.0.0.1",
    caller_options: tuple[str, ...] = (),
) -> None:
    """The callee's scenario at the gateway (none when the call must not reach it) and the
    caller's towards the proxy, each from its own address; both must end well."""
    uas = None
    if callee_xml is not None:
        uas = sipp.start(
            callee_xml,
            stack.folder,
            "callee",
            stack.gateway_port,
            free_media_port(),
            local_ip=callee_ip,
        )
    uac = sipp.start(
        caller_xml,
        stack.folder,
        "caller",
        free_udp_port(),
        free_media_port(),
        remote=f"127.0.0.1:{stack.sip_port}",
        local_ip=caller_ip,
        extra=caller_options,
    )
    caller_status = uac.wait()
    callee_status = uas.wait() if uas is not None else 0
    assert caller_status == 0, uac.errors() + (uas.errors() if uas else "")
    assert callee_status == 0, uas.errors() if uas else ""


def account_rule(stack: Stack, *options: str) -> None:
    settings = Settings(database_url=stack.database_url)
    assert main(["account", "set", "acme", *options], settings=settings) == 0


def options_answered(port: int, source: str, count: int, user_agent: str = "probe") -> int:
    """Send count OPTIONS from source as fast as they go; how many got an answer."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        local = sock.getsockname()[1]
        for index in range(count):
            sock.sendto(
                (
                    f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
                    f"Via: SIP/2.0/UDP {source}:{local};branch=z9hG4bKflood{index}\r\n"
                    f"From: <sip:probe@{source}>;tag=f{index}\r\nTo: <sip:127.0.0.1:{port}>\r\n"
                    f"Call-ID: flood-{index}@{source}\r\nCSeq: 1 OPTIONS\r\n"
                    f"User-Agent: {user_agent}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
                ).encode(),
                ("127.0.0.1", port),
            )
        sock.settimeout(1.0)
        answered = 0
        with contextlib.suppress(TimeoutError):
            while True:
                sock.recv(65536)
                answered += 1
        return answered
