"""Size and time limits on a real socket: oversized bodies, lying framing, slow clients."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from urllib.parse import urlsplit

import orjson
import pytest

from callmask.http import body
from tests.fuzz.harness import changed_tables, snapshot
from tests.support import Live

SET = "/api/v2/Masking/set"
LIMIT = 65536


@contextmanager
def raw(live: Live, timeout: float = 5.0) -> Iterator[socket.socket]:
    parts = urlsplit(live.url)
    conn = socket.create_connection((parts.hostname or "", parts.port or 80), timeout=timeout)
    with closing(conn):
        yield conn


def _head(path: str, *lines: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: test\r\n" + "".join(f"{h}\r\n" for h in lines) + "\r\n"
    ).encode()


def _answer(conn: socket.socket) -> tuple[int, dict[str, object]]:
    """Status and JSON body of one response (Content-Length framed, as callmask answers)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        assert chunk, data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(rest) < length:
        chunk = conn.recv(65536)
        assert chunk, rest
        rest += chunk
    return int(head.split(b" ")[1]), orjson.loads(rest[:length])


def _send_quietly(conn: socket.socket, data: bytes) -> None:
    """Send as much as the server takes; it may answer and close before reading it all."""
    try:
        conn.sendall(data)
    except (BrokenPipeError, ConnectionResetError, TimeoutError):
        pass


def test_declared_oversize_body_is_1047_before_it_is_sent(live: Live) -> None:
    with raw(live) as conn:
        started = time.monotonic()
        conn.sendall(_head(SET, f"Content-Length: {LIMIT * 100}", "Content-Type: text/plain"))
        status, answer = _answer(conn)
        assert time.monotonic() - started < 2
    assert (status, answer["code"]) == (200, 1047), answer
    assert "too large" in str(answer["message"])


def test_oversize_body_with_a_lying_content_length_is_not_read_past_it(live: Live) -> None:
    before = snapshot(live.settings.database_url)
    payload = orjson.dumps(live.auth(m1=919876543210, m2=919812345678, pad="x" * LIMIT * 2))
    with raw(live) as conn:
        # Declares 100 bytes, sends 130 KB: the app sees 100 bytes (not JSON: 1047), and the
        # rest is no HTTP request, which uvicorn's parser answers 400 (plain text) and closes;
        # whichever comes first, promptly.
        started = time.monotonic()
        conn.sendall(_head(SET, "Content-Length: 100", "Content-Type: text/plain"))
        _send_quietly(conn, payload)
        first = conn.recv(65536)
        assert time.monotonic() - started < 2
    assert first.startswith((b"HTTP/1.1 200 ", b"HTTP/1.1 400 ")), first[:200]
    if first.startswith(b"HTTP/1.1 200 "):
        assert b'"code":1047' in first, first
    assert b"Traceback" not in first
    assert changed_tables(before, snapshot(live.settings.database_url)) == []
    assert live.get("/healthz").status_code == 200


def test_chunked_oversize_body_is_1047_promptly(live: Live) -> None:
    before = snapshot(live.settings.database_url)
    with raw(live) as conn:
        started = time.monotonic()
        conn.sendall(_head(SET, "Transfer-Encoding: chunked", "Content-Type: text/plain"))
        chunk = b"x" * 8192
        status = 0
        conn.settimeout(0.05)
        for _ in range(LIMIT * 4 // len(chunk)):
            _send_quietly(conn, f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            try:
                if conn.recv(1, socket.MSG_PEEK):
                    break
            except TimeoutError:
                continue
        conn.settimeout(5)
        status, answer = _answer(conn)
        assert time.monotonic() - started < 3
    assert (status, answer["code"]) == (200, 1047), answer
    assert "too large" in str(answer["message"])
    assert changed_tables(before, snapshot(live.settings.database_url)) == []


def test_chunked_body_under_the_limit_is_read(live: Live) -> None:
    payload = orjson.dumps(live.auth(m1=919876543210, m2=919812345678))
    with raw(live) as conn:
        conn.sendall(_head(SET, "Transfer-Encoding: chunked", "Content-Type: text/plain"))
        for start in range(0, len(payload), 7):
            piece = payload[start : start + 7]
            conn.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        conn.sendall(b"0\r\n\r\n")
        status, answer = _answer(conn)
    assert (status, answer["status"]) == (200, "success"), answer


@pytest.mark.parametrize("sent", [b"", b'{"userId": "acme", "tok'])
def test_stalled_body_is_cut_off_with_1047(
    live: Live, monkeypatch: pytest.MonkeyPatch, sent: bytes
) -> None:
    monkeypatch.setattr(body, "BODY_TIMEOUT_SECONDS", 1.0)
    with raw(live) as conn:
        started = time.monotonic()
        conn.sendall(_head(SET, "Content-Length: 500", "Content-Type: text/plain") + sent)
        status, answer = _answer(conn)
        waited = time.monotonic() - started
    assert (status, answer["code"]) == (200, 1047), answer
    assert "in time" in str(answer["message"])
    assert 0.9 < waited < 3


def test_trickled_body_is_cut_off_at_the_deadline_not_per_byte(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(body, "BODY_TIMEOUT_SECONDS", 1.0)
    with raw(live) as conn:
        started = time.monotonic()
        conn.sendall(_head(SET, "Content-Length: 500", "Content-Type: text/plain"))
        conn.settimeout(0.2)
        answered = b""
        while not answered and time.monotonic() - started < 5:
            _send_quietly(conn, b" ")  # one byte every 0.2 s: never idle, never done
            try:
                answered = conn.recv(1, socket.MSG_PEEK)
            except TimeoutError:
                pass
        conn.settimeout(5)
        status, answer = _answer(conn)
        waited = time.monotonic() - started
    assert (status, answer["code"]) == (200, 1047), answer
    assert waited < 3


def test_slow_clients_do_not_hold_the_server(live: Live) -> None:
    """Connections stalled in their headers, their body or before a byte: others are served.

    uvicorn has no timeout on a request's headers, so those connections stay open until the
    client goes (a reverse proxy's client_header_timeout closes them in production); the
    event loop serves everyone else meanwhile.
    """
    stalled = []
    parts = urlsplit(live.url)
    try:
        for index in range(60):
            conn = socket.create_connection((parts.hostname or "", parts.port or 80), timeout=5)
            stalled.append(conn)
            if index % 3 == 1:
                conn.sendall(b"POST /api/v2/Masking/set HTTP/1.1\r\nHost: te")
            elif index % 3 == 2:
                conn.sendall(_head(SET, "Content-Length: 500") + b"{")
        for _ in range(20):
            started = time.monotonic()
            assert live.get("/healthz").status_code == 200
            listed = live.post("/api/v2/Masking/list", json=live.auth()).json()
            assert listed["status"] == "success", listed
            assert time.monotonic() - started < 1
    finally:
        for conn in stalled:
            conn.close()
