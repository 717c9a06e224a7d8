"""Media anchored through rtpengine: neither party sees the other's IP address.

The two sipp parties sit on different loopback addresses (caller 127.0.0.2, callee 127.0.0.3)
so that an address crossing in any SDP line, or anywhere else, is seen.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.rtpengine import Rtpengine, rtpengine_running
from callmask.sip import kamailio
from tests.e2e import sipp
from tests.e2e.calls import run_pair
from tests.e2e.rtp import listening, tone, write_pcap
from tests.e2e.sip_stack import Stack, sip_stack
from tests.support import free_port

CALLER_IP, CALLEE_IP = "127.0.0.2", "127.0.0.3"


@pytest.fixture(scope="module")
def rtpengine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rtpengine]:
    with rtpengine_running(tmp_path_factory.mktemp("rtpengine")) as running:
        yield running


def place(stack: Stack, m1: str, m2: str, final: int = 200, expose: bool = True) -> None:
    """m1 calls m2 on their DID from 127.0.0.2; the callee answers on 127.0.0.3. expose:
    each side fails on any sight of the other's address."""
    did = str(stack.masking(m1, m2)["mask"])
    callee_ip, caller_ip = (CALLEE_IP, CALLER_IP) if expose else ("", "")
    run_pair(
        stack,
        sipp.callee(m2, did, m1, other_ip=caller_ip) if final == 200 else None,
        sipp.caller(m1, did, m2, final=final, other_ip=callee_ip),
        caller_ip=CALLER_IP,
        callee_ip=CALLEE_IP,
    )


def test_with_anchoring_neither_party_sees_the_others_address(
    tmp_path: Path, rtpengine: Rtpengine
) -> None:
    anchored = {"rtpengine": (rtpengine.control,)}
    with sip_stack(tmp_path, kamailio=anchored, gateway_host=CALLEE_IP) as stack:
        place(stack, "+919876500060", "+919812300060")
        # The BYE deleted the session: no ports stay open for it.
        deadline = time.monotonic() + 5
        while rtpengine.sessions() != 0:
            assert time.monotonic() < deadline, "rtpengine still holds the call"
            time.sleep(0.1)


def test_without_anchoring_the_sdp_shows_the_other_partys_address(tmp_path: Path) -> None:
    # What anchoring is for: the same call, unanchored, shows each party the other's address.
    with sip_stack(tmp_path, gateway_host=CALLEE_IP) as stack:
        with pytest.raises(AssertionError, match="Regexp matched but should not"):
            place(stack, "+919876500061", "+919812300061")


def test_rtpengine_down_and_required_answers_503(tmp_path: Path) -> None:
    nowhere = {"rtpengine": (f"udp:127.0.0.1:{free_port()}",)}
    with sip_stack(tmp_path, kamailio=nowhere, gateway_host=CALLEE_IP) as stack:
        place(stack, "+919876500062", "+919812300062", final=503)


def test_rtpengine_down_and_not_required_connects_unanchored_and_counts(tmp_path: Path) -> None:
    nowhere = {"rtpengine": (f"udp:127.0.0.1:{free_port()}",), "rtpengine_required": False}
    with sip_stack(tmp_path, kamailio=nowhere, gateway_host=CALLEE_IP) as stack:
        place(stack, "+919876500063", "+919812300063", expose=False)
        assert stack.statistic("callmask_unanchored") >= 2  # the offer and the answer


def test_rtp_from_the_caller_reaches_the_callee_through_rtpengine(
    tmp_path: Path, rtpengine: Rtpengine
) -> None:
    # 697 Hz does not repeat within 20 ms frames, so each frame is unique and the order of
    # what arrives can be checked (a 1 kHz tone at 8 kHz repeats every frame).
    frames = tone(697, 1.0)
    assert len(set(frames)) == len(frames)
    write_pcap(tmp_path / "tone.pcap", frames)
    anchored = {"rtpengine": (rtpengine.control,)}
    m1, m2 = "+919876500064", "+919812300064"
    with sip_stack(tmp_path, kamailio=anchored, gateway_host=CALLEE_IP) as stack:
        did = str(stack.masking(m1, m2)["mask"])
        with listening(CALLEE_IP) as (port, received):
            run_pair(
                stack,
                sipp.callee(m2, did, m1, other_ip=CALLER_IP, media_port=str(port)),
                sipp.caller(
                    m1, did, m2, other_ip=CALLEE_IP, play=str(tmp_path / "tone.pcap"), talk_ms=3000
                ),
                caller_ip=CALLER_IP,
                callee_ip=CALLEE_IP,
            )
    # The tone came from rtpengine, not from the caller's address, and unchanged.
    sources = {source for source, _ in received.packets}
    assert sources == {"127.0.0.1"}, sources
    payloads = received.payloads()
    assert len(payloads) >= 0.8 * len(frames)
    first = frames.index(payloads[0])
    assert payloads == frames[first : first + len(payloads)]


CNAME = b"sip:+919876500066@192.0.2.7"  # what a softphone puts in its RTCP SDES CNAME


def rtcp_with_cname(ssrc: int) -> bytes:
    """A sender report and an SDES chunk naming the sender by its SIP URI (RFC 3550)."""
    report = struct.pack("!BBHIIIIII", 0x80, 200, 6, ssrc, 0, 0, 0, 0, 0)
    chunk = struct.pack("!I", ssrc) + bytes([1, len(CNAME)]) + CNAME + b"\x00"
    chunk += b"\x00" * (-len(chunk) % 4)
    return report + struct.pack("!BBH", 0x81, 202, len(chunk) // 4) + chunk


def callers_rtcp_port(rtpengine: Rtpengine, caller_ip: str) -> int | None:
    """Where rtpengine takes the caller's RTCP, once it holds the call."""
    for call_id in rtpengine.ng({"command": "list"}).get(b"calls", []):
        found = rtpengine.ng({"command": "query", "call-id": call_id})
        for tag in found.get(b"tags", {}).values():
            for media in tag.get(b"medias", []):
                for stream in media.get(b"streams", []):
                    endpoint = stream.get(b"endpoint", {}).get(b"address", b"").decode()
                    if b"RTCP" in stream.get(b"flags", []) and endpoint == caller_ip:
                        return int(stream[b"local port"])
    return None


def send_rtcp_during_the_call(rtpengine: Rtpengine, stop: threading.Event) -> list[int]:
    """RTCP naming the caller, from the caller's address to rtpengine, while the call lasts."""
    sent: list[int] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((CALLER_IP, 0))
        while not stop.is_set():
            port = callers_rtcp_port(rtpengine, CALLER_IP)
            if port is not None:
                sock.sendto(rtcp_with_cname(0x1234ABCD), ("127.0.0.1", port))
                sent.append(port)
            stop.wait(0.2)
    return sent


def rtcp_call(tmp_path: Path, rtpengine: Rtpengine, m1: str, m2: str) -> list[bytes]:
    """A call whose caller sends RTCP with its SIP URI as CNAME; all the callee received."""
    frames = tone(697, 2.5)
    write_pcap(tmp_path / "tone.pcap", frames)
    anchored = {"rtpengine": (rtpengine.control,)}
    with sip_stack(tmp_path, kamailio=anchored, gateway_host=CALLEE_IP) as stack:
        did = str(stack.masking(m1, m2)["mask"])
        with listening(CALLEE_IP) as (port, received), listening(CALLEE_IP, port + 1) as (_, rtcp):
            stop, sent = threading.Event(), []
            sender = threading.Thread(
                target=lambda: sent.extend(send_rtcp_during_the_call(rtpengine, stop))
            )
            sender.start()
            try:
                run_pair(
                    stack,
                    sipp.callee(m2, did, m1, other_ip=CALLER_IP, media_port=str(port)),
                    sipp.caller(
                        m1,
                        did,
                        m2,
                        other_ip=CALLEE_IP,
                        play=str(tmp_path / "tone.pcap"),
                        talk_ms=3000,
                    ),
                    caller_ip=CALLER_IP,
                    callee_ip=CALLEE_IP,
                )
            finally:
                stop.set()
                sender.join()
            assert len(sent) >= 5, "no RTCP could be sent to rtpengine during the call"
            time.sleep(0.3)  # what rtpengine relayed last
        assert received.packets, "no RTP reached the callee"
    return [data for _, data in received.packets + rtcp.packets]


def test_a_partys_rtcp_cname_never_reaches_the_other(tmp_path: Path, rtpengine: Rtpengine) -> None:
    heard = rtcp_call(tmp_path, rtpengine, "+919876500066", "+919812300066")
    assert not [data for data in heard if CNAME in data]


def test_without_generated_rtcp_the_cname_crosses(
    tmp_path: Path, rtpengine: Rtpengine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What generate-RTCP is for: rtpengine relays each party's own RTCP without it.
    shipped = kamailio.render
    monkeypatch.setattr(
        kamailio, "render", lambda options: shipped(options).replace(" generate-RTCP", "")
    )
    heard = rtcp_call(tmp_path, rtpengine, "+919876500067", "+919812300067")
    assert [data for data in heard if CNAME in data]
