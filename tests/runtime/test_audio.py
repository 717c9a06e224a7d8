"""pcap_to_wav on captures written here as rtpengine writes them (raw IPv4 or Ethernet, UDP, RTP
with G.711 encoded by libsndfile): two parties placed on one timeline, mixed, and the prompt
in front; everything that is not a capture of audio refused with RecordingUnreadable."""

from __future__ import annotations

import io
import os
import socket
import struct
import wave
from dataclasses import dataclass
from pathlib import Path

import dpkt
import numpy as np
import numpy.typing as npt
import pytest
import soundfile
from hypothesis import given, settings
from hypothesis import strategies as st

from callmask.runtime.audio import Audio, RecordingUnreadable, pcap_to_wav

RATE = 8000
FRAME = 160  # samples per 20 ms packet
T0 = 1_700_000_000.0  # capture time of the first packet
CALLER, CALLEE = "127.0.0.2", "127.0.0.3"
SHIPPED_PROMPT = Path(__file__).resolve().parents[2] / "src/callmask/sip/recording-prompt.wav"


@dataclass
class Leg:
    """One party's RTP: a tone for `seconds` from capture time `start`, 20 ms per packet."""

    source: str
    tone: float
    codec: int  # 0 PCMU, 8 PCMA
    start: float = 0.0
    seconds: float = 2.0
    first_timestamp: int = 1000
    ssrc: int = 0x1234
    port: int = 40000


def tone(hz: float, seconds: float, amplitude: float = 0.3) -> npt.NDArray[np.float64]:
    t = np.arange(round(seconds * RATE)) / RATE
    return amplitude * np.sin(2 * np.pi * hz * t)


def g711(samples: npt.NDArray[np.float64], codec: int) -> bytes:
    out = io.BytesIO()
    subtype = {0: "ULAW", 8: "ALAW"}[codec]
    soundfile.write(out, samples, RATE, format="RAW", subtype=subtype)
    return out.getvalue()


def rtp(pt: int, seq: int, timestamp: int, ssrc: int, payload: bytes) -> bytes:
    return struct.pack("!BBHII", 0x80, pt, seq & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc) + payload


def udp_ip(source: str, port: int, payload: bytes) -> dpkt.ip.IP:
    udp = dpkt.udp.UDP(sport=port, dport=30000, data=payload)
    udp.ulen = len(udp)
    ip = dpkt.ip.IP(
        src=socket.inet_aton(source), dst=socket.inet_aton("127.0.0.1"), p=17, ttl=64, data=udp
    )
    ip.len = len(ip)
    return ip


def packets(leg: Leg, skip: range = range(0)) -> list[tuple[float, str, int, bytes]]:
    """(capture time, source, port, RTP) of each packet of the leg but those numbered in skip."""
    audio = g711(tone(leg.tone, leg.seconds), leg.codec)
    found = []
    for n in range(len(audio) // FRAME):
        if n not in skip:
            payload = audio[n * FRAME : (n + 1) * FRAME]
            packet = rtp(leg.codec, n, leg.first_timestamp + n * FRAME, leg.ssrc, payload)
            found.append((leg.start + n * FRAME / RATE, leg.source, leg.port, packet))
    return found


def write_pcap(
    path: Path, sent: list[tuple[float, str, int, bytes]], link: int = dpkt.pcap.DLT_RAW
) -> Path:
    with path.open("wb") as file:
        writer = dpkt.pcap.Writer(file, linktype=link)
        for at, source, port, payload in sorted(sent, key=lambda packet: packet[0]):
            frame: dpkt.Packet = udp_ip(source, port, payload)
            if link == dpkt.pcap.DLT_EN10MB:
                frame = dpkt.ethernet.Ethernet(
                    src=b"\x02" * 6, dst=b"\x04" * 6, type=dpkt.ethernet.ETH_TYPE_IP, data=frame
                )
            writer.writepkt(bytes(frame), ts=T0 + at)
    return path


def the_call() -> list[tuple[float, str, int, bytes]]:
    """The caller's 697 Hz in PCMU for 0-2 s, the callee's 1209 Hz in PCMA for 1-3 s, and what
    must be left out: RTCP (on the RTP port, as with rtcp-mux, and on its own port), and
    telephone-events (payload type 101) and comfort noise (13) in the caller's stream."""
    caller = Leg(CALLER, 697, 0, ssrc=0x1111, port=40000)
    callee = Leg(CALLEE, 1209, 8, start=1.0, ssrc=0x2222, port=40002, first_timestamp=77)
    sender_report = struct.pack("!BBHI", 0x80, 200, 6, 0x1111) + bytes(20)
    event = rtp(101, 9999, 1000 + 4000, 0x1111, bytes([1, 0x8A, 0x03, 0x20]))
    loud_event = rtp(101, 9998, 1000 + 8000, 0x1111, bytes(FRAME))  # loud if taken as G.711
    comfort_noise = rtp(13, 9997, 1000 + 12000, 0x1111, bytes([0x40]))
    return [
        *packets(caller),
        *packets(callee),
        (0.5, CALLER, 40000, sender_report),
        (0.7, CALLER, 40001, sender_report),
        (0.5, CALLER, 40000, event),
        (1.0, CALLER, 40000, loud_event),
        (1.5, CALLER, 40000, comfort_noise),
    ]


def read_wav(path: Path) -> npt.NDArray[np.float64]:
    with wave.open(str(path)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (RATE, 1, 2)
        frames = wav.readframes(wav.getnframes())
    return np.frombuffer(frames, dtype="<i2").astype(np.float64)


def spectrum(samples: npt.NDArray[np.float64], start: float, end: float) -> dict[str, float]:
    """What each frequency of interest contributes to [start, end) s (amplitude), and the
    dominant frequency, window edges trimmed by 20 ms."""
    part = samples[round((start + 0.02) * RATE) : round((end - 0.02) * RATE)]
    magnitude = np.abs(np.fft.rfft(part * np.hanning(len(part))))
    freqs = np.fft.rfftfreq(len(part), 1 / RATE)

    def at(hz: float) -> float:
        return float(magnitude[np.abs(freqs - hz) <= 5].max())

    return {"peak": float(freqs[magnitude.argmax()]), "697": at(697), "1209": at(1209)}


def test_two_parties_on_one_timeline(tmp_path: Path) -> None:
    wav = tmp_path / "call.wav"
    audio = pcap_to_wav(write_pcap(tmp_path / "call.pcap", the_call()), wav)

    samples = read_wav(wav)
    assert audio == Audio(duration_ms=len(samples) * 1000 // RATE, size=wav.stat().st_size)
    assert abs(audio.duration_ms - 3000) <= 60
    assert abs(spectrum(samples, 0, 1)["peak"] - 697) <= 2
    assert abs(spectrum(samples, 2, 3)["peak"] - 1209) <= 2
    both = spectrum(samples, 1, 2)
    assert min(both["697"], both["1209"]) > 0.5 * max(both["697"], both["1209"])
    assert np.abs(samples).max() < 0.65 * 32767  # the two tones summed, nothing else
    assert not list(tmp_path.glob("*.part"))


def test_the_prompt_comes_first_in_the_place_of_the_calls_first_half_second(
    tmp_path: Path,
) -> None:
    prompt = tmp_path / "prompt.wav"
    soundfile.write(prompt, tone(440, 0.5), RATE, subtype="PCM_16")
    wav = tmp_path / "call.wav"
    audio = pcap_to_wav(write_pcap(tmp_path / "call.pcap", the_call()), wav, prompt)

    samples = read_wav(wav)
    assert abs(audio.duration_ms - 3000) <= 60
    assert abs(spectrum(samples, 0, 0.5)["peak"] - 440) <= 4
    assert abs(spectrum(samples, 0.5, 1)["peak"] - 697) <= 4
    assert abs(spectrum(samples, 2, 3)["peak"] - 1209) <= 2


def test_a_prompt_not_at_8000_hz_is_refused(tmp_path: Path) -> None:
    prompt = tmp_path / "prompt.wav"
    soundfile.write(prompt, tone(440, 0.5), 16000, subtype="PCM_16")
    with pytest.raises(ValueError, match="8000 Hz"):
        pcap_to_wav(write_pcap(tmp_path / "call.pcap", the_call()), tmp_path / "call.wav", prompt)


def test_missing_packets_leave_silence_in_their_place(tmp_path: Path) -> None:
    lost = range(40, 60)  # 0.8 s to 1.2 s
    capture = write_pcap(tmp_path / "gap.pcap", packets(Leg(CALLER, 697, 0), skip=lost))
    audio = pcap_to_wav(capture, tmp_path / "gap.wav")

    samples = read_wav(tmp_path / "gap.wav")
    assert audio.duration_ms == 2000
    assert not samples[round(0.8 * RATE) : round(1.2 * RATE)].any()
    for start, end in [(0, 0.8), (1.2, 2)]:
        assert abs(spectrum(samples, start, end)["peak"] - 697) <= 4
    # The tone after the gap is where it was sent: in phase with an unbroken one.
    sent = np.round(tone(697, 2) * 32767)[round(1.2 * RATE) :]
    assert np.corrcoef(sent, samples[round(1.2 * RATE) :])[0, 1] > 0.99


def test_rtp_timestamps_wrapping_past_2_to_the_32(tmp_path: Path) -> None:
    leg = Leg(CALLER, 697, 8, first_timestamp=2**32 - 10 * FRAME)
    audio = pcap_to_wav(write_pcap(tmp_path / "wrap.pcap", packets(leg)), tmp_path / "wrap.wav")

    samples = read_wav(tmp_path / "wrap.wav")
    assert audio.duration_ms == 2000
    # Every 20 ms holds the tone: nothing was dropped or moved at the wrap.
    assert all(np.abs(frame).max() > 5000 for frame in samples.reshape(-1, FRAME))


def test_ethernet_captures(tmp_path: Path) -> None:
    capture = write_pcap(tmp_path / "eth.pcap", the_call(), link=dpkt.pcap.DLT_EN10MB)
    audio = pcap_to_wav(capture, tmp_path / "eth.wav")

    samples = read_wav(tmp_path / "eth.wav")
    assert abs(audio.duration_ms - 3000) <= 60
    assert abs(spectrum(samples, 2, 3)["peak"] - 1209) <= 2


def refused(capture: Path, wav: Path) -> str:
    with pytest.raises(RecordingUnreadable) as raised:
        pcap_to_wav(capture, wav)
    assert not wav.exists()
    assert not wav.with_suffix(".part").exists()
    return str(raised.value)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00", "truncated pcap"),
        (b"RIFF" + bytes(100), "not a pcap file"),
        (b"\x0a\x0d\x0d\x0a" + bytes(100), "not a pcap file"),  # pcapng
    ],
)
def test_what_is_not_a_pcap_is_refused(tmp_path: Path, content: bytes, reason: str) -> None:
    (tmp_path / "bad.pcap").write_bytes(content)
    assert refused(tmp_path / "bad.pcap", tmp_path / "out.wav") == reason


def test_a_capture_of_rtcp_only_holds_no_audio(tmp_path: Path) -> None:
    sent = [packet for packet in the_call() if packet[3][1] in (200, 101)]
    capture = write_pcap(tmp_path / "rtcp.pcap", sent)
    assert refused(capture, tmp_path / "out.wav") == "no audio in the recording"


def test_a_capture_of_other_than_udp_holds_no_audio(tmp_path: Path) -> None:
    with (tmp_path / "tcp.pcap").open("wb") as file:
        writer = dpkt.pcap.Writer(file, linktype=dpkt.pcap.DLT_RAW)
        for n in range(50):
            tcp = dpkt.tcp.TCP(sport=5060, dport=5060, data=rtp(0, n, n * FRAME, 1, bytes(FRAME)))
            ip = dpkt.ip.IP(src=b"\x7f\0\0\2", dst=b"\x7f\0\0\1", p=6, data=tcp)
            ip.len = len(ip)
            writer.writepkt(bytes(ip), ts=T0 + n / 50)
    assert refused(tmp_path / "tcp.pcap", tmp_path / "out.wav") == "no audio in the recording"


@pytest.mark.parametrize(
    "second",
    [
        pytest.param(Leg(CALLER, 697, 0, start=2.0, first_timestamp=1000 + 2**31), id="timestamp"),
        pytest.param(Leg(CALLER, 697, 0, start=7 * 3600, ssrc=99), id="capture-time"),
    ],
)
def test_a_timeline_longer_than_6_hours_is_refused(tmp_path: Path, second: Leg) -> None:
    # The same stream's timestamps jumping by 2^31 (74 hours), or a stream 7 hours later.
    sent = packets(Leg(CALLER, 697, 0)) + packets(second)
    capture = write_pcap(tmp_path / "long.pcap", sent)
    assert "longer than 6 hours" in refused(capture, tmp_path / "out.wav")


def test_the_part_file_is_gone_when_writing_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(source: object, target: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(OSError):
        pcap_to_wav(write_pcap(tmp_path / "call.pcap", the_call()), tmp_path / "call.wav")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["call.pcap"]


def test_every_truncation_of_a_capture_is_audio_or_refused(tmp_path: Path) -> None:
    whole = write_pcap(tmp_path / "call.pcap", the_call()).read_bytes()
    cut, wav = tmp_path / "cut.pcap", tmp_path / "cut.wav"
    for length in [*range(0, 200), *range(200, len(whole), 997)]:
        cut.write_bytes(whole[:length])
        try:
            audio = pcap_to_wav(cut, wav)
        except RecordingUnreadable:
            assert length < 24 + 16 + 20 + 8 + 12 + FRAME  # not one whole packet
        else:
            assert audio.duration_ms <= 3000 and audio.size > 44  # a sample at least
        assert not wav.with_suffix(".part").exists()


@settings(max_examples=200, deadline=None)
@given(st.binary())
def test_random_bytes_are_refused(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    folder = tmp_path_factory.getbasetemp()
    (folder / "random.pcap").write_bytes(data)
    refused(folder / "random.pcap", folder / "random.wav")


@settings(max_examples=200, deadline=None)
@given(
    link=st.sampled_from([dpkt.pcap.DLT_RAW, dpkt.pcap.DLT_EN10MB]),
    frames=st.lists(st.binary(max_size=120), max_size=20),
    stamps=st.lists(st.floats(0, 2**31), min_size=20, max_size=20),
)
def test_a_capture_of_random_frames_is_audio_or_refused(
    tmp_path_factory: pytest.TempPathFactory, link: int, frames: list[bytes], stamps: list[float]
) -> None:
    # Valid records around garbage, and garbage after valid IP and UDP headers.
    folder = tmp_path_factory.getbasetemp()
    with (folder / "frames.pcap").open("wb") as file:
        writer = dpkt.pcap.Writer(file, linktype=link)
        for n, frame in enumerate(frames):
            if n % 2:
                frame = bytes(udp_ip(CALLER, 40000, b"\x80" + frame))
            if link == dpkt.pcap.DLT_EN10MB:
                frame = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + frame
            writer.writepkt(frame, ts=stamps[n])
    try:
        audio = pcap_to_wav(folder / "frames.pcap", folder / "frames.wav")
    except RecordingUnreadable:
        assert not (folder / "frames.wav").with_suffix(".part").exists()
    else:
        assert audio.size == (folder / "frames.wav").stat().st_size


def test_the_shipped_prompt(tmp_path: Path) -> None:
    info = soundfile.info(str(SHIPPED_PROMPT))
    assert (info.samplerate, info.channels, info.subtype) == (RATE, 1, "PCM_16")
    assert 0.5 <= info.duration <= 4
    samples = read_wav(SHIPPED_PROMPT)
    assert np.sqrt(np.mean(samples**2)) > 1000  # speech, not silence
