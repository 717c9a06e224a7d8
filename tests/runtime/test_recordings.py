"""The recording collector over a real spool and a real store (SQLite and PostgreSQL): each
finished capture becomes one WAV (the prompt, then the call), its row is finished once and
announced, and rtpengine's files are gone afterwards, whatever became of the call."""

from __future__ import annotations

import asyncio
import io
import os
import socket
import struct
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import dpkt
import numpy as np
import numpy.typing as npt
import orjson
import pytest
import soundfile

from callmask.bootstrap import build_services
from callmask.config import Settings
from callmask.domain.calls import CallEvent
from callmask.domain.numbers import E164
from callmask.domain.recordings import Recording
from callmask.runtime.recordings import ORPHAN_SECONDS, STALE_CLAIM_SECONDS, RecordingCollector
from callmask.service import Services
from callmask.service.context import Context
from callmask.service.recordings import Recordings
from tests.backends import BACKENDS, Database, fresh_store
from tests.support import Clock, principal

pytestmark = pytest.mark.anyio

RATE = 8000
FRAME = 160  # samples per 20 ms packet
A, B = E164("+919876543210"), E164("+919812345678")
X = E164("+918040000000")
# What the collector announces; the masking's and the call's own notices are not its work.
NOTICES = "SELECT kind, body FROM webhook_events WHERE kind LIKE 'recording.%' ORDER BY seq"


# -- rtpengine's side: a capture of one party's PCMU tone, and the call's metadata file --------


def tone(hz: float, seconds: float) -> npt.NDArray[np.float64]:
    return 0.3 * np.sin(2 * np.pi * hz * np.arange(round(seconds * RATE)) / RATE)


def capture(path: Path, seconds: float = 2.0) -> Path:
    """A raw-IP pcap of 697 Hz in PCMU from 127.0.0.2, 20 ms a packet, as rtpengine writes."""
    pcmu = io.BytesIO()
    soundfile.write(pcmu, tone(697, seconds), RATE, format="RAW", subtype="ULAW")
    audio = pcmu.getvalue()
    with path.open("wb") as file:
        writer = dpkt.pcap.Writer(file, linktype=dpkt.pcap.DLT_RAW)
        for n in range(len(audio) // FRAME):
            rtp = struct.pack("!BBHII", 0x80, 0, n, n * FRAME, 0x1111)
            udp = dpkt.udp.UDP(
                sport=40000, dport=30000, data=rtp + audio[n * FRAME : (n + 1) * FRAME]
            )
            udp.ulen = len(udp)
            ip = dpkt.ip.IP(
                src=socket.inet_aton("127.0.0.2"), dst=socket.inet_aton("127.0.0.1"), p=17, data=udp
            )
            ip.len = len(ip)
            writer.writepkt(bytes(ip), ts=1_700_000_000 + n * FRAME / RATE)
    return path


@dataclass
class Spool:
    """rtpengine's recording folder: pcaps/ while calls run, metadata/ once they end."""

    root: Path

    def __post_init__(self) -> None:
        (self.root / "pcaps").mkdir(parents=True)
        (self.root / "metadata").mkdir()

    def ended(
        self, call_id: str, pcap: bytes | None = b"", suffix: str = "0123456789abcdef"
    ) -> Path:
        """The call's metadata file, naming its capture under the path rtpengine runs with;
        the capture written too: a real one (b""), these bytes, or none (None)."""
        name = f"{quote(call_id, safe='')}-{suffix}"
        if pcap == b"":
            capture(self.root / "pcaps" / f"{name}.pcap")
        elif pcap is not None:
            (self.root / "pcaps" / f"{name}.pcap").write_bytes(pcap)
        metadata = self.root / "metadata" / f"rtpengine-meta-{name}.txt"
        metadata.write_text(f"/var/spool/rtpengine/pcaps/{name}.pcap\n\nCALL-ID\n{call_id}\n")
        return metadata

    def files(self) -> list[str]:
        return sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*") if p.is_file())


@dataclass
class World:
    services: Services
    database: Database
    spool: Spool
    folder: Path  # CALLMASK_RECORDINGS_DIR
    prompt: Path

    def collector(
        self, recordings: Recordings | None = None, prompt: Path | None = None
    ) -> RecordingCollector:
        return RecordingCollector(
            recordings or self.services.recordings,
            self.spool.root,
            self.folder,
            prompt or self.prompt,
        )

    async def recorded_call(self, call_id: str, status: str = "started") -> Recording:
        """A masked call of acme that the proxy recorded (or skipped recording) at answer."""
        made = await self.services.maskings.set_masking(principal(), A, B)
        ts = self.services.now_ms()
        routing = self.services.routing
        await routing.record_call_event(
            CallEvent("start", call_id, ts - 60_000, made.masking_id, X, made.m1, made.m2)
        )
        await routing.record_call_event(CallEvent("answer", call_id, ts - 58_000, sip_status=200))
        skipped = status == "skipped"
        await routing.record_call_event(
            CallEvent(
                "recording",
                call_id,
                ts - 58_000,
                recording="skipped" if skipped else "started",
                reason="the consent prompt could not be played" if skipped else None,
            )
        )
        await routing.record_call_event(CallEvent("end", call_id, ts, duration_s=58))
        found = await self.services.recordings.of_call(call_id)
        assert found is not None
        return found

    async def row(self, call_id: str) -> Recording:
        found = await self.services.recordings.of_call(call_id)
        assert found is not None
        return found

    async def notices(self) -> list[tuple[str, dict[str, object]]]:
        rows = await self.database.rows(NOTICES)
        return [(str(kind), orjson.loads(body)) for kind, body in rows]

    def wavs(self) -> list[Path]:
        return sorted(p for p in self.folder.rglob("*") if p.is_file() and p.parent != self.folder)


@pytest.fixture(params=BACKENDS)
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    folder = tmp_path / "recordings"
    folder.mkdir()
    prompt = tmp_path / "prompt.wav"
    soundfile.write(prompt, tone(440, 0.5), RATE, subtype="PCM_16")
    async with fresh_store(request.param, tmp_path) as (store, database):
        services = build_services(store, Settings(recordings_dir=str(folder)), Clock())
        await store.add_pool_numbers("acme", [X], services.now_ms())
        await services.webhooks.set_webhook("acme", "http://127.0.0.1:9/hook")
        yield World(services, database, Spool(tmp_path / "spool"), folder, prompt)


def read_wav(path: Path) -> npt.NDArray[np.int16]:
    info = soundfile.info(str(path))
    assert (info.samplerate, info.channels, info.subtype) == (RATE, 1, "PCM_16")
    samples: npt.NDArray[np.int16] = soundfile.read(str(path), dtype="int16")[0]
    return samples


def peak(samples: npt.NDArray[np.int16]) -> float:
    """The dominant frequency, Hz."""
    magnitude = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / RATE)[magnitude.argmax()])


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


async def test_a_finished_capture_becomes_the_accounts_wav_prompt_first_and_is_announced(
    world: World,
) -> None:
    recording = await world.recorded_call("call-1@pc33")
    world.spool.ended("call-1@pc33")

    assert await world.collector().collect() == 1

    done = await world.row("call-1@pc33")
    wav = world.folder / "acme" / f"{recording.recording_id}.wav"
    assert world.wavs() == [wav]
    assert (done.status, done.file, done.reason) == (
        "ready",
        f"acme/{recording.recording_id}.wav",
        None,
    )
    assert (done.duration_ms, done.size) == (2000, wav.stat().st_size)
    samples, prompt = read_wav(wav), read_wav(world.prompt)
    assert len(samples) == 2 * RATE
    assert np.array_equal(samples[: len(prompt)], prompt)  # the prompt, sample for sample
    assert abs(peak(samples[len(prompt) + FRAME : -FRAME]) - 697) <= 4  # then the call
    assert world.spool.files() == []
    [(kind, notice)] = await world.notices()
    assert kind == "recording.ready"
    assert notice["accountId"] == "acme"
    assert notice["data"] == {
        "callId": "call-1@pc33",
        "recording": {
            "id": recording.recording_id,
            "status": "ready",
            "duration": 2.0,
            "size": wav.stat().st_size,
            "reason": None,
        },
    }
    # Nothing is left to take, and the row is finished once only.
    assert await world.collector().collect() == 0
    assert await world.row("call-1@pc33") == done


async def test_a_missing_capture_fails_the_recording_and_empties_the_spool(world: World) -> None:
    await world.recorded_call("call-2")
    world.spool.ended("call-2", pcap=None)

    assert await world.collector().collect() == 1

    done = await world.row("call-2")
    assert (done.status, done.file) == ("failed", None)
    assert done.reason == "the capture is missing: rtpengine could not write it"
    assert world.spool.files() == [] and world.wavs() == []
    assert [kind for kind, _ in await world.notices()] == ["recording.failed"]


async def test_an_unreadable_capture_fails_the_recording_with_the_reason(world: World) -> None:
    await world.recorded_call("call-3")
    world.spool.ended("call-3", pcap=b"RIFF" + bytes(100))

    assert await world.collector().collect() == 1

    done = await world.row("call-3")
    assert (done.status, done.reason, done.file, done.size) == (
        "failed",
        "not a pcap file",
        None,
        None,
    )
    assert world.spool.files() == [] and world.wavs() == []
    assert not list(world.folder.rglob("*.part"))
    [(kind, notice)] = await world.notices()
    assert kind == "recording.failed"
    assert notice["data"]["recording"]["reason"] == "not a pcap file"  # type: ignore[index]


async def test_an_orphan_waits_for_its_row_then_is_deleted(world: World) -> None:
    young = world.spool.ended("nobody-young", suffix="1" * 16)
    old = world.spool.ended("nobody-old", suffix="2" * 16)
    age(young, ORPHAN_SECONDS - 60)
    age(old, ORPHAN_SECONDS + 1)
    before = world.spool.files()

    assert await world.collector().collect() == 1

    kept = [name for name in before if "nobody-young" in name]
    assert len(kept) == 2 and world.spool.files() == kept
    # Its row arrives (the proxy's events were late): it is taken as any other.
    await world.recorded_call("nobody-young")
    assert await world.collector().collect() == 1
    assert (await world.row("nobody-young")).status == "ready"
    assert world.spool.files() == [] and len(world.wavs()) == 1


async def test_a_skipped_recordings_capture_is_deleted_without_a_file(world: World) -> None:
    skipped = await world.recorded_call("call-4", status="skipped")
    world.spool.ended("call-4")

    assert await world.collector().collect() == 1

    assert await world.row("call-4") == skipped
    assert skipped.status == "skipped"
    assert world.spool.files() == [] and world.wavs() == []
    assert await world.notices() == []


class Racing(Recordings):
    """The use cases, with every collector's lookup held until all of them have looked, so
    they all go for the same metadata file at once; and the finishes counted."""

    def __init__(self, context: Context, barrier: asyncio.Barrier, finishes: list[str]) -> None:
        super().__init__(context)
        self._barrier = barrier
        self._finishes = finishes

    async def of_call(self, call_id: str) -> Recording | None:
        found = await super().of_call(call_id)
        await self._barrier.wait()
        return found

    async def finish(
        self,
        recording: Recording,
        *,
        file: str | None = None,
        duration_ms: int | None = None,
        size: int | None = None,
        reason: str | None = None,
    ) -> Recording | None:
        self._finishes.append(recording.call_id)
        return await super().finish(
            recording, file=file, duration_ms=duration_ms, size=size, reason=reason
        )


async def test_collectors_sharing_a_spool_take_each_call_once(world: World) -> None:
    await world.recorded_call("call-5")
    world.spool.ended("call-5")
    barrier, finishes = asyncio.Barrier(3), list[str]()
    context = world.services.context
    racers = [world.collector(Racing(context, barrier, finishes)) for _ in range(3)]

    taken = await asyncio.wait_for(asyncio.gather(*(racer.collect() for racer in racers)), 30)

    assert sorted(taken) == [0, 0, 1]
    assert finishes == ["call-5"]
    assert len(world.wavs()) == 1 and world.wavs()[0].stat().st_size > 44
    assert (await world.row("call-5")).status == "ready"
    assert [kind for kind, _ in await world.notices()] == ["recording.ready"]
    assert world.spool.files() == []


async def test_a_call_id_is_read_back_from_its_percent_encoded_file_name(world: World) -> None:
    call_id = "a84b/c76 e667@pc33+x%2F-0123456789abcdef"
    recording = await world.recorded_call(call_id)
    metadata = world.spool.ended(call_id)
    assert "/" not in metadata.name and " " not in metadata.name and "@" not in metadata.name

    assert await world.collector().collect() == 1

    done = await world.row(call_id)
    assert done.status == "ready"
    assert world.wavs() == [world.folder / "acme" / f"{recording.recording_id}.wav"]
    assert world.spool.files() == []


async def test_a_prompt_that_is_not_8_khz_mono_16_bit_fails_the_recording(
    world: World, tmp_path: Path
) -> None:
    wide = tmp_path / "wide.wav"
    soundfile.write(wide, tone(440, 0.5), 16000, subtype="PCM_16")
    await world.recorded_call("call-6")
    world.spool.ended("call-6")

    assert await world.collector(prompt=wide).collect() == 1

    done = await world.row("call-6")
    assert (done.status, done.reason) == (
        "failed",
        "the consent prompt is not a mono 16-bit 8 kHz WAV",
    )
    assert world.wavs() == [] and not list(world.folder.rglob("*.part"))
    assert world.spool.files() == []


async def test_a_prompt_that_is_not_a_wav_at_all_fails_the_recording(
    world: World, tmp_path: Path
) -> None:
    await world.recorded_call("call-7")
    world.spool.ended("call-7")

    # A typo in CALLMASK_RECORDING_PROMPT: every recording fails, none is lost half-way.
    await world.collector(prompt=tmp_path / "no-such-prompt.wav").collect()

    done = await world.row("call-7")
    assert done.status == "failed" and "prompt" in str(done.reason)
    assert world.spool.files() == [] and world.wavs() == []


async def test_a_claim_left_by_a_stopped_collector_is_taken_back_once_stale(
    world: World,
) -> None:
    await world.recorded_call("call-8")
    metadata = world.spool.ended("call-8")
    # A collector claimed it and died before finishing: its claim is recent, then stale.
    claimed = metadata.with_name(metadata.name + ".4242.claimed")
    metadata.rename(claimed)
    age(claimed, STALE_CLAIM_SECONDS - 60)
    assert await world.collector().collect() == 0
    assert (await world.row("call-8")).status == "recording"
    age(claimed, STALE_CLAIM_SECONDS + 1)
    assert await world.collector().collect() == 1
    assert (await world.row("call-8")).status == "ready"
    assert world.spool.files() == [] and len(world.wavs()) == 1
