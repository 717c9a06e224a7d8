"""What recording a call costs: rtpengine relaying a call's media with and without writing
its capture, and callmask turning the capture into the WAV afterwards.

`python -m bench.recording`: one rtpengine (userspace forwarding, the pcap recording method,
as deploy/rtpengine.conf runs it) holds N calls at once set up over its control protocol;
this process plays both parties, each sending G.711 (20 ms frames, 50 packets/s) to
rtpengine for S seconds, and reads rtpengine's CPU time from /proc. The same calls run twice
in one sitting, unrecorded then recorded, so the machine's noise touches both alike. Then
each recorded capture goes through runtime/audio.pcap_to_wav as the collector runs it, timed
on this process's CPU clock. Bounded: N calls x S seconds each way, at most 50 x 120.
Writes docs/recording.md.
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.cpu import cpu_seconds
from bench.rtpengine import Rtpengine, rtpengine_running
from callmask.runtime.audio import pcap_to_wav
from callmask.sip.kamailio import default_prompt

DOCS = Path(__file__).resolve().parent.parent / "docs" / "recording.md"
FRAME = 160  # 20 ms of G.711 at 8 kHz
MAX_CALLS, MAX_SECONDS = 50, 120


@dataclass(frozen=True)
class Sitting:
    calls: int
    seconds: float
    plain_cpu_s: float  # rtpengine, calls unrecorded
    recorded_cpu_s: float  # rtpengine, the same calls recorded
    convert_cpu_s: float  # callmask, all captures into WAVs
    audio_s: float  # of audio in the WAVs written

    def per_call_minute_ms(self, cpu_s: float) -> float:
        return cpu_s * 1000 / (self.calls * self.seconds / 60)


def _offer(rtpengine: Rtpengine, call_id: str, record: bool, ports: tuple[int, int]) -> int:
    """A call between two local parties; the port rtpengine takes each side's RTP on."""

    def sdp(port: int) -> str:
        return (
            f"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
        )

    flags = ["replace-origin", "replace-session-connection", "generate-RTCP"]
    offer = {"call-id": call_id, "from-tag": "caller", "flags": flags}
    rtpengine.ng({"command": "offer", **offer, "sdp": sdp(ports[0])})
    answered = rtpengine.ng(
        {"command": "answer", **offer, "to-tag": "callee", "sdp": sdp(ports[1])}
    )
    if record:
        rtpengine.ng({"command": "start recording", "call-id": call_id, "from-tag": "caller"})
    text = answered[b"sdp"].decode()
    return int(text.split("m=audio ", 1)[1].split()[0])


def _calls(rtpengine: Rtpengine, calls: int, seconds: float, record: bool) -> float:
    """rtpengine's CPU seconds while `calls` calls exchange media for `seconds`."""
    sockets, targets = [], []
    for index in range(calls):
        caller = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        callee = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        caller.bind(("127.0.0.1", 0))
        callee.bind(("127.0.0.1", 0))
        call_id = f"bench-{record}-{index}"
        to_callee = _offer(
            rtpengine, call_id, record, (caller.getsockname()[1], callee.getsockname()[1])
        )
        # The caller's side gets the offer's port; the callee's the answer's: ask.
        found = rtpengine.ng({"command": "query", "call-id": call_id})
        to_caller = _local_port(found, b"caller")
        sockets += [caller, callee]
        targets.append((caller, callee, to_callee, to_caller))
    stop = threading.Event()
    drain = threading.Thread(target=_drain, args=(sockets, stop))
    drain.start()
    before = cpu_seconds([rtpengine.process.pid]) or 0.0
    frames = int(seconds * 50)
    started = time.monotonic()
    payload = bytes([0xFF]) * FRAME
    for seq in range(frames):
        for caller, callee, to_callee, to_caller in targets:
            header = seq.to_bytes(2, "big") + (seq * FRAME).to_bytes(4, "big")
            caller.sendto(
                b"\x80\x00" + header + b"\x00\x00\x00\x01" + payload, ("127.0.0.1", to_callee)
            )
            callee.sendto(
                b"\x80\x00" + header + b"\x00\x00\x00\x02" + payload, ("127.0.0.1", to_caller)
            )
        time.sleep(max(0.0, started + (seq + 1) * 0.02 - time.monotonic()))
    used = (cpu_seconds([rtpengine.process.pid]) or 0.0) - before
    for index in range(calls):
        rtpengine.ng(
            {"command": "delete", "call-id": f"bench-{record}-{index}", "from-tag": "caller"}
        )
    stop.set()
    drain.join()
    for sock in sockets:
        sock.close()
    return used


def _local_port(query: dict[bytes, object], tag: bytes) -> int:
    """The RTP port rtpengine takes this tag's media on."""
    tags = query[b"tags"]
    assert isinstance(tags, dict)
    for stream in tags[tag][b"medias"][0][b"streams"]:
        if b"RTP" in stream[b"flags"]:
            return int(stream[b"local port"])
    raise AssertionError(f"no RTP stream for {tag!r}")


def _drain(sockets: Sequence[socket.socket], stop: threading.Event) -> None:
    for sock in sockets:
        sock.setblocking(False)
    while not stop.is_set():
        for sock in sockets:
            try:
                while sock.recv(2048):
                    pass
            except BlockingIOError:
                pass
        stop.wait(0.01)


def run(calls: int, seconds: float, folder: Path) -> Sitting:
    calls, seconds = min(calls, MAX_CALLS), min(seconds, MAX_SECONDS)
    spool = folder / "spool"
    with rtpengine_running(folder, ports=8 * calls + 8, recordings=spool) as rtpengine:
        plain = _calls(rtpengine, calls, seconds, record=False)
        recorded = _calls(rtpengine, calls, seconds, record=True)
    started, audio_s = time.process_time(), 0.0
    for index, capture in enumerate(sorted((spool / "pcaps").glob("*.pcap"))):
        written = pcap_to_wav(capture, folder / f"call-{index}.wav", default_prompt())
        audio_s += written.duration_ms / 1000
    converted = time.process_time() - started
    return Sitting(calls, seconds, plain, recorded, converted, audio_s)


def report(sitting: Sitting) -> str:
    s = sitting
    ratio = s.recorded_cpu_s / s.plain_cpu_s if s.plain_cpu_s else float("nan")
    return "\n".join(
        [
            "# What recording a call costs",
            "",
            "Written by `python -m bench.recording` (bench/recording.py says how it measures).",
            f"{s.calls} calls at once, each party sending G.711 for {s.seconds:.0f} s, run",
            "unrecorded and then recorded in one sitting; CPU per minute of call.",
            "",
            "| what | CPU s | ms per call-minute | against unrecorded |",
            "|---|---|---|---|",
            f"| rtpengine relaying, unrecorded | {s.plain_cpu_s:.2f} |"
            f" {s.per_call_minute_ms(s.plain_cpu_s):.0f} | 1.00x |",
            f"| rtpengine relaying and writing the capture | {s.recorded_cpu_s:.2f} |"
            f" {s.per_call_minute_ms(s.recorded_cpu_s):.0f} | {ratio:.2f}x |",
            f"| callmask turning the captures into WAVs | {s.convert_cpu_s:.2f} |"
            f" {s.per_call_minute_ms(s.convert_cpu_s):.0f} |"
            f" {s.convert_cpu_s / s.plain_cpu_s if s.plain_cpu_s else float('nan'):.2f}x |",
            "",
            f"The WAVs hold {s.audio_s:.0f} s of audio in all.",
            "",
        ]
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--no-output", action="store_true", help="print, do not write docs/")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="callmask-recording-") as folder:
        text = report(run(args.calls, args.seconds, Path(folder)))
    print(text)
    if not args.no_output:
        DOCS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
