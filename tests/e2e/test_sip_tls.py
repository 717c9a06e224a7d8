"""The optional TLS listener: Kamailio on the shipped configuration with a certificate,
spoken to over a real TLS connection (Debian's sipp has no TLS, so the client is Python's)."""

from __future__ import annotations

import secrets
import socket
import ssl
from pathlib import Path

from tests.e2e.sip_stack import sip_stack
from tests.support import free_port, self_signed


def _ask(port: int, request: str) -> str:
    """Send one request over TLS and return the first final (non-1xx) answer's status line."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # a self-signed test certificate
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            tls.sendall(request.encode())
            received = ""
            while True:
                chunk = tls.recv(65536).decode(errors="replace")
                assert chunk, f"connection closed after {received!r}"
                received += chunk
                for line in received.split("\r\n"):
                    if line.startswith("SIP/2.0 ") and not line.startswith("SIP/2.0 1"):
                        return line


def _request(method: str, uri: str, port: int, user: str) -> str:
    tag = secrets.token_hex(4)
    return (
        f"{method} {uri} SIP/2.0\r\n"
        f"Via: SIP/2.0/TLS 127.0.0.1:{port};branch=z9hG4bK{tag};rport\r\n"
        f"From: <sip:{user}@127.0.0.1>;tag={tag}\r\n"
        f"To: <{uri}>\r\nCall-ID: {tag}@tls\r\nCSeq: 1 {method}\r\n"
        f"Contact: <sip:{user}@127.0.0.1:{port};transport=tls>\r\n"
        "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )


def test_the_tls_listener_answers_keepalives_and_routes_requests(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    port = free_port()
    tls = {"tls_cert": str(cert), "tls_key": str(key), "tls_listen": f"tls:127.0.0.1:{port}"}
    with sip_stack(tmp_path, kamailio=tls) as stack:
        did = str(stack.masking("+919876500050", "+919812300050")["mask"])
        uri = f"sip:127.0.0.1:{port};transport=tls"
        assert _ask(port, _request("OPTIONS", uri, port, "ping")) == "SIP/2.0 200 OK"
        # A caller with no masking on the DID: the lookup ran, over TLS as over UDP.
        lookups = stack.route_lookups()
        invite = _request(
            "INVITE", f"sip:{did}@127.0.0.1:{port};transport=tls", port, "+919700000050"
        )
        assert _ask(port, invite).startswith("SIP/2.0 403")
        assert stack.route_lookups() == lookups + 1
