"""RTP for the media tests: a G.711 tone written as a pcap sipp can play, and a socket that
takes what arrives at a party's media port."""

from __future__ import annotations

import math
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

RATE = 8000
FRAME = 160  # 20 ms of G.711 at 8 kHz


def _ulaw(sample: int) -> int:
    """One 16-bit linear sample as G.711 mu-law (the classic segment encoder)."""
    bias, clip = 0x84, 32635
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), clip) + bias
    exponent = max(0, magnitude.bit_length() - 8)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def tone(frequency: float, seconds: float) -> list[bytes]:
    """20 ms G.711 mu-law frames of a sine tone."""
    samples = [
        _ulaw(int(12000 * math.sin(2 * math.pi * frequency * n / RATE)))
        for n in range(int(RATE * seconds))
    ]
    return [bytes(samples[i : i + FRAME]) for i in range(0, len(samples), FRAME)]


def write_pcap(path: Path, frames: list[bytes]) -> None:
    """frames as RTP (PCMU, one every 20 ms) in UDP/IPv4/Ethernet packets; sipp's
    play_pcap_audio rewrites the addresses and ports and keeps the timing."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for index, payload in enumerate(frames):
        rtp = struct.pack("!BBHII", 0x80, 0, index, index * FRAME, 0x1234ABCD) + payload
        udp = struct.pack("!HHHH", 4000, 4000, 8 + len(rtp), 0) + rtp
        ip = (
            struct.pack(
                "!BBHHHBBH4s4s",
                0x45,
                0,
                20 + len(udp),
                index,
                0,
                64,
                17,
                0,
                bytes([10, 0, 0, 1]),
                bytes([10, 0, 0, 2]),
            )
            + udp
        )
        ether = b"\x00\x00\x00\x00\x00\x02" + b"\x00\x00\x00\x00\x00\x01" + b"\x08\x00" + ip
        micros = index * 20000
        out.append(
            struct.pack("<IIII", micros // 1_000_000, micros % 1_000_000, len(ether), len(ether))
        )
        out.append(ether)
    path.write_bytes(b"".join(out))


@dataclass
class Received:
    packets: list[tuple[str, bytes]] = field(default_factory=list)  # (source address, payload)

    def payloads(self) -> list[bytes]:
        return [data[12:] for _, data in self.packets if len(data) > 12]


@contextmanager
def listening(host: str, port: int = 0) -> Iterator[tuple[int, Received]]:
    """An even UDP port on host (or this port) and everything that reaches it while the
    block runs."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for candidate in [port] if port else range(31000, 32000, 2):
        try:
            sock.bind((host, candidate))
            break
        except OSError:
            if port:
                raise
            continue
    sock.settimeout(0.2)
    received, stopping = Received(), threading.Event()

    def take() -> None:
        while not stopping.is_set():
            try:
                data, source = sock.recvfrom(2048)
            except TimeoutError:
                continue
            received.packets.append((source[0], data))

    reader = threading.Thread(target=take, daemon=True)
    reader.start()
    try:
        yield sock.getsockname()[1], received
    finally:
        stopping.set()
        reader.join(timeout=2)
        sock.close()
