"""A recorded call as one WAV: rtpengine's capture of both parties, decoded and mixed.

rtpengine's `pcap` recording method writes the UDP packets it receives from each party (raw IP,
link type 101; Ethernet if told so). RTP is grouped into streams by source address, port and
SSRC; PCMU and PCMA are decoded by libsndfile; each stream starts on a common timeline at its
first packet's capture time and advances by its RTP timestamps, gaps left silent; the streams
are mixed with clipping. Everything else (RTCP, DTMF events, comfort noise, other codecs, frames
that do not decode) is skipped.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import dpkt
import numpy as np
import numpy.typing as npt
import soundfile

RATE = 8000
_CODECS = {0: "ULAW", 8: "ALAW"}  # RTP payload type -> libsndfile subtype (G.711, 8 kHz)
_MAX_SAMPLES = 6 * 3600 * RATE  # a longer timeline is a hostile or broken capture, not a call
_EARLY = 60 * RATE  # a packet this much before its stream's first (reordered) is dropped
_RAW_LINKS, _ETHERNET = {101, 12, 14, 228}, 1  # LINKTYPE_RAW, DLT_RAW (two), LINKTYPE_IPV4
_MAX_RECORD = 262144  # libpcap's largest snapshot length
_RAW = {"format": "RAW", "samplerate": RATE, "channels": 1}  # headerless G.711 for libsndfile


class RecordingUnreadable(Exception):
    """The capture cannot become audio; the message says why, in words for the call record."""


@dataclass(frozen=True, slots=True)
class Audio:
    duration_ms: int
    size: int  # bytes of the WAV written


@dataclass(slots=True)
class _Stream:
    arrival: float  # capture time of its first packet
    timestamp: int  # RTP timestamp of its first packet
    codec: str
    payloads: dict[int, bytes]  # samples after the first packet -> its G.711 bytes


class _Capture:
    """The capture file as dpkt reads it. A record longer than any capture holds ends the
    capture, as a truncated one does: read as is, its length would be allocated first."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self.name = str(file.name)

    def read(self, size: int) -> bytes:
        if size > _MAX_RECORD:
            raise dpkt.NeedData("a pcap record longer than any capture holds")
        return self._file.read(size)


def _datagrams(pcap: Path) -> Iterator[tuple[float, tuple[bytes, int], bytes]]:
    """(capture time, source address and port, payload) of each UDP packet of the capture."""
    try:
        with pcap.open("rb") as file:
            try:
                reader = dpkt.pcap.Reader(_Capture(file))
            except dpkt.NeedData:
                empty = file.tell() == 0
                raise RecordingUnreadable("empty file" if empty else "truncated pcap") from None
            except ValueError:
                raise RecordingUnreadable("not a pcap file") from None
            link = reader.datalink()
            if link not in _RAW_LINKS and link != _ETHERNET:
                raise RecordingUnreadable(f"pcap link type {link} is not IP")
            for arrival, frame in reader:
                try:
                    if link == _ETHERNET:
                        ip = dpkt.ethernet.Ethernet(frame).data
                    elif frame[:1] and frame[0] >> 4 == 6:
                        ip = dpkt.ip6.IP6(frame)
                    else:
                        ip = dpkt.ip.IP(frame)
                    udp = ip.data
                except Exception:  # dpkt's decoders raise many kinds on a malformed frame
                    continue
                if isinstance(ip, dpkt.ip.IP | dpkt.ip6.IP6) and isinstance(udp, dpkt.udp.UDP):
                    yield float(arrival), (bytes(ip.src), udp.sport), bytes(udp.data)
    except dpkt.NeedData:
        return  # a truncated record: rtpengine stopped mid-write; the packets before it count
    except OSError as error:
        raise RecordingUnreadable(f"the file cannot be read ({error.strerror})") from None


def _streams(pcap: Path) -> list[_Stream]:
    streams: dict[tuple[tuple[bytes, int], int, str], _Stream] = {}
    for arrival, source, rtp in _datagrams(pcap):
        if len(rtp) < 12 or rtp[0] >> 6 != 2:
            continue  # not RTP version 2
        codec = _CODECS.get(rtp[1] & 0x7F)  # RTCP is 72-76 here: skipped too
        start = 12 + 4 * (rtp[0] & 0x0F)  # past the CSRCs
        if rtp[0] & 0x10:  # past a header extension
            start += 4 + 4 * int.from_bytes(rtp[start + 2 : start + 4], "big")
        end = len(rtp) - (rtp[-1] if rtp[0] & 0x20 else 0)  # before the padding
        if codec is None or end <= start:
            continue
        # A codec change within an SSRC starts a stream at that packet's arrival.
        key = (source, int.from_bytes(rtp[8:12], "big"), codec)
        timestamp = int.from_bytes(rtp[4:8], "big")
        stream = streams.get(key)
        if stream is None:
            stream = streams[key] = _Stream(arrival, timestamp, codec, {})
        offset = (timestamp - stream.timestamp) % 2**32  # past a wrap too
        if offset < 2**32 - _EARLY:
            stream.payloads.setdefault(offset, rtp[start:end])  # duplicates once
    return list(streams.values())


def _mix(streams: list[_Stream]) -> npt.NDArray[np.int16]:
    if not streams:
        raise RecordingUnreadable("no audio in the recording")
    first = min(stream.arrival for stream in streams)
    bases = [round((stream.arrival - first) * RATE) for stream in streams]
    end = max(
        base + offset + len(payload)
        for base, stream in zip(bases, streams, strict=True)
        for offset, payload in stream.payloads.items()
    )
    if end > _MAX_SAMPLES:
        raise RecordingUnreadable("the recording's timeline is longer than 6 hours")
    mixed = np.zeros(end, dtype=np.int16)
    for base, stream in zip(bases, streams, strict=True):
        offsets = sorted(stream.payloads)
        joined = b"".join(stream.payloads[offset] for offset in offsets)
        samples = soundfile.read(io.BytesIO(joined), dtype="int16", subtype=stream.codec, **_RAW)[0]
        at = 0
        for offset in offsets:
            where, length = base + offset, len(stream.payloads[offset])
            summed = mixed[where : where + length] + samples[at : at + length].astype(np.int32)
            mixed[where : where + length] = np.clip(summed, -32768, 32767)
            at += length
    return mixed


def _prompt(prompt: Path) -> npt.NDArray[np.int16]:
    try:
        info = soundfile.info(str(prompt))
    except (soundfile.SoundFileError, OSError):
        raise ValueError(f"{prompt} is missing or not a sound file") from None
    if (info.samplerate, info.channels, info.subtype) != (RATE, 1, "PCM_16"):
        raise ValueError(f"{prompt} must be a mono 16-bit {RATE} Hz WAV")
    samples: npt.NDArray[np.int16] = soundfile.read(str(prompt), dtype="int16")[0]
    return samples


def pcap_to_wav(pcap: Path, wav: Path, prompt: Path | None = None) -> Audio:
    """Write the call rtpengine captured in `pcap` as a mono 16-bit 8 kHz WAV.

    With a `prompt` (the consent prompt rtpengine played to both parties at answer, which its
    capture does not hold), the file is the prompt followed by the conversation, and the
    conversation's first prompt-length of audio (from the capture's earliest packet) is
    dropped: it is the time both parties spent hearing the prompt. The file's length is then
    still the call's. A prompt that is not a mono 16-bit 8000 Hz WAV is a ValueError.

    RecordingUnreadable, with a short reason, for a capture that holds no audio or is not one.
    """
    said = _prompt(prompt) if prompt is not None else np.zeros(0, dtype=np.int16)
    call = _mix(_streams(pcap))
    call = np.concatenate([said, call[len(said) :]])
    part = wav.with_suffix(".part")
    try:
        soundfile.write(part, call, RATE, format="WAV", subtype="PCM_16")
        os.replace(part, wav)
    finally:
        part.unlink(missing_ok=True)
    return Audio(duration_ms=len(call) * 1000 // RATE, size=wav.stat().st_size)
