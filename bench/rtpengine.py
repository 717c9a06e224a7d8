"""rtpengine on loopback for the media tests and the call bench: userspace forwarding (no
kernel module), its own control and CLI ports, and a port range of its own."""

from __future__ import annotations

import random
import re
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bencodepy


@dataclass
class Rtpengine:
    control: str  # what Kamailio's rtpengine_sock takes
    cli_port: int
    process: subprocess.Popen[bytes]

    def ng(self, command: dict[str, object]) -> dict[bytes, Any]:
        """One command on rtpengine's control protocol (bencoded dictionaries over UDP)."""
        host, port = self.control.removeprefix("udp:").rsplit(":", 1)
        cookie = secrets.token_hex(4).encode()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(2)
            sock.sendto(cookie + b" " + bencodepy.encode(command), (host, int(port)))
            answer = sock.recv(65535)
        assert answer.startswith(cookie + b" "), answer[:100]
        # rtpengine's dictionaries are not in key order: a strict decoder refuses them.
        decoded: dict[bytes, Any] = bencodepy.decode(answer[len(cookie) + 1 :])
        return decoded

    def sessions(self) -> int:
        """Calls rtpengine holds now (rtpengine-ctl over its CLI port)."""
        done = subprocess.run(
            [
                "rtpengine-ctl",
                "-ip",
                "127.0.0.1",
                "-port",
                str(self.cli_port),
                "list",
                "numsessions",
            ],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        found = re.search(r"Current sessions total: (\d+)", done.stdout)
        assert found is not None, done.stdout + done.stderr
        return int(found.group(1))


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def answers_ping(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.2)
        cookie = secrets.token_hex(4).encode()
        sock.sendto(cookie + b" d7:command4:pinge", ("127.0.0.1", port))
        try:
            return sock.recv(4096).startswith(cookie + b" d6:result4:pong")
        except TimeoutError:
            return False


@contextmanager
def rtpengine_running(
    folder: Path, ports: int = 100, recordings: Path | None = None
) -> Iterator[Rtpengine]:
    """rtpengine with ports RTP/RTCP ports of its own (4 a call) from a random range;
    recordings: the folder it writes recorded calls to (pcaps/, metadata/), when given."""
    binary = shutil.which("rtpengine") or "/usr/bin/rtpengine"
    control, cli = free_udp_port(), free_udp_port()
    first = random.randrange(20000, 60000 - ports, 100)
    log = (folder / "rtpengine.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            # Not /etc/rtpengine/rtpengine.conf, whose fixed table and ports a second
            # instance would fight over; table -1: forwarding in userspace.
            "--config-file=none",
            "--foreground",
            "--log-stderr",
            "--table=-1",
            "--interface=127.0.0.1",
            f"--listen-ng=127.0.0.1:{control}",
            f"--listen-cli=127.0.0.1:{cli}",
            f"--port-min={first}",
            f"--port-max={first + ports - 1}",
            "--delete-delay=0",
            # Captures written in userspace; the kernel-module method ("proc") and the
            # recording daemon that reads it need the kernel module.
            *(
                ["--recording-method=pcap", f"--recording-dir={recordings}"]
                if recordings is not None
                else []
            ),
        ],
        stdout=log,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + 10
        while not answers_ping(control):
            assert process.poll() is None, (folder / "rtpengine.log").read_text()
            assert time.monotonic() < deadline, "rtpengine did not answer its control port"
        yield Rtpengine(f"udp:127.0.0.1:{control}", cli, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
