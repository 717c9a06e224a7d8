"""Recorded calls through rtpengine: the consent prompt, one WAV of the call, served to the
call's account only, purged with the call; and what happens when a part fails.

Real Kamailio, rtpengine (captures in userspace) and sipp; the caller plays a 697 Hz G.711
tone, and the WAV callmask makes of the capture must hold the prompt, then that tone.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import threading
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import soundfile

from bench.rtpengine import Rtpengine, rtpengine_running
from callmask.bootstrap import session
from callmask.cli import main
from callmask.config import Settings
from callmask.domain.retention import Purged
from callmask.sip.kamailio import default_prompt
from tests.e2e import sipp
from tests.e2e.calls import account_rule, run_pair
from tests.e2e.rtp import listening, tone, write_pcap
from tests.e2e.sip_stack import Stack, sip_stack

TONE_HZ, TONE_S = 697, 3.0
RATE = 8000
CALLEE_IP = "127.0.0.3"


@pytest.fixture(scope="module")
def spool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("spool")


@pytest.fixture(scope="module")
def rtpengine(tmp_path_factory: pytest.TempPathFactory, spool: Path) -> Iterator[Rtpengine]:
    with rtpengine_running(tmp_path_factory.mktemp("rtpengine"), recordings=spool) as running:
        yield running


@contextlib.contextmanager
def recording_stack(
    tmp_path: Path,
    rtpengine: Rtpengine,
    spool: Path,
    gateway_host: str = "127.0.0.1",
    **kamailio: Any,
) -> Iterator[Stack]:
    with sip_stack(
        tmp_path,
        gateway_host=gateway_host,
        kamailio={"rtpengine": (rtpengine.control,), **kamailio},
        CALLMASK_RECORDINGS_DIR=str(tmp_path / "recordings"),
        CALLMASK_RECORDINGS_SPOOL=str(spool),
    ) as stack:
        # The client reads its call log here (before its first request, so no process has
        # cached it without).
        settings = Settings(database_url=stack.database_url)
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["user", "grant", "acme", "LIST_CALL_LOG"], settings=settings) == 0
        yield stack


def report(stack: Stack, token: str | None = None, user: str = "acme") -> list[dict[str, Any]]:
    answer = httpx.post(
        stack.api + "/api/v2/callreport/masklist",
        json={"userId": user, "token": token or stack.client_token},
        timeout=10,
    ).json()
    assert answer["status"] == "success", answer
    calls: list[dict[str, Any]] = answer["calls"]
    return calls


def settled(stack: Stack, caller: str, seconds: float = 20) -> dict[str, Any]:
    """The caller's call once its recording is no longer under way."""
    deadline = time.monotonic() + seconds
    while True:
        calls = [c for c in report(stack) if c["caller"] == caller and c["status"] == "completed"]
        if calls and calls[0]["recording"] and calls[0]["recording"]["status"] != "recording":
            return calls[0]
        assert time.monotonic() < deadline, f"recording not finished: {calls}"
        time.sleep(0.2)


def download(stack: Stack, recording_id: str, user: str, token: str) -> httpx.Response:
    return httpx.get(
        stack.api + "/api/v2/callreport/recording",
        params={"id": recording_id, "userId": user, "token": token},
        timeout=10,
    )


def samples(data: bytes, folder: Path) -> tuple[np.ndarray, int]:
    path = folder / "got.wav"
    path.write_bytes(data)
    with wave.open(str(path)) as audio:
        assert (audio.getnchannels(), audio.getsampwidth()) == (1, 2)
        rate = audio.getframerate()
        return np.frombuffer(audio.readframes(audio.getnframes()), dtype="<i2"), rate


def dominant_hz(chunk: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(chunk.astype(np.float64) * np.hanning(len(chunk))))
    return float(np.fft.rfftfreq(len(chunk), 1 / rate)[int(np.argmax(spectrum))])


def other_account(stack: Stack) -> str:
    """A client of another account, allowed to read its call log; its token."""
    settings = Settings(database_url=stack.database_url)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert (
            main(["user", "add", "rival", "--permissions", "LIST_CALL_LOG"], settings=settings) == 0
        )
    [token] = [
        line.split()[1] for line in printed.getvalue().splitlines() if line.startswith("token:")
    ]
    return token


def shipped_prompt() -> np.ndarray:
    with wave.open(str(default_prompt())) as shipped:
        assert shipped.getframerate() == RATE
        return np.frombuffer(shipped.readframes(shipped.getnframes()), dtype="<i2")


def ulaw(payload: bytes) -> np.ndarray:
    decoded, _ = soundfile.read(
        io.BytesIO(payload),
        dtype="int16",
        format="RAW",
        subtype="ULAW",
        samplerate=RATE,
        channels=1,
    )
    return np.asarray(decoded)


def similarity(heard: np.ndarray, prompt: np.ndarray) -> float:
    """The best normalised correlation of the prompt anywhere in what was heard."""
    a = prompt.astype(np.float64)
    best = 0.0
    for lag in range(0, len(heard) - len(prompt) + 1, 8):
        b = heard[lag : lag + len(prompt)].astype(np.float64)
        norm = float(np.linalg.norm(a) * np.linalg.norm(b))
        if norm:
            best = max(best, float(np.dot(a, b)) / norm)
    return best


async def purge_all(settings: Settings) -> Purged:
    """The retention purge, as the sweeper runs it, with everything until now past retention."""
    async with session(settings) as services:
        return await services.retention.purge(services.now_ms() + 1)


def test_a_recorded_call_gives_one_wav_with_the_prompt_then_the_call(
    tmp_path: Path, rtpengine: Rtpengine, spool: Path
) -> None:
    m1, m2 = "+919876500070", "+919812300070"
    prompt = shipped_prompt()
    with recording_stack(tmp_path, rtpengine, spool, gateway_host=CALLEE_IP) as stack:
        did = str(stack.masking(m1, m2, record=True)["mask"])
        write_pcap(tmp_path / "tone.pcap", tone(TONE_HZ, TONE_S))
        with listening(CALLEE_IP) as (port, heard):
            run_pair(
                stack,
                sipp.callee(m2, did, m1, media_port=str(port)),
                sipp.caller(m1, did, m2, play=str(tmp_path / "tone.pcap"), talk_ms=4000),
                callee_ip=CALLEE_IP,
            )
        # The callee heard the prompt first, from rtpengine's media player.
        spoken = ulaw(b"".join(heard.payloads()))
        assert len(spoken) >= len(prompt)
        assert similarity(spoken[: len(prompt) + RATE // 2], prompt) > 0.9
        # Then the caller, let through as the prompt ended.
        then = spoken[len(prompt) + RATE // 4 : len(prompt) + 3 * RATE // 4]
        assert len(then) == RATE // 2 and abs(dominant_hz(then, RATE) - TONE_HZ) < 10
        call = settled(stack, m1)
        recording = call["recording"]
        assert recording["status"] == "ready", recording
        got = download(stack, recording["id"], "acme", stack.client_token)
        assert got.status_code == 200, got.text
        assert got.headers["content-type"] == "audio/wav"
        audio, rate = samples(got.content, tmp_path)
        assert recording["size"] == len(got.content)
        assert abs(recording["duration"] - len(audio) / rate) < 0.01

        # The prompt both parties heard opens the file, then the call: the tone the caller
        # played, for the part of it that came after the prompt.
        assert np.array_equal(audio[: len(prompt)], prompt)
        expected_s = max(TONE_S, len(prompt) / rate)
        assert abs(len(audio) / rate - expected_s) < 0.4, len(audio) / rate
        after = audio[len(prompt) : len(prompt) + rate // 2]
        assert len(after) == rate // 2
        assert abs(dominant_hz(after, rate) - TONE_HZ) < 10

        # Only the call's account gets the file; another gets the answer an unknown id gets.
        rival = other_account(stack)
        refused = download(stack, recording["id"], "rival", rival)
        unknown = download(stack, "rec_nonexistent", "rival", rival)
        assert refused.status_code == 200 and refused.json()["code"] == 1000
        assert refused.json()["message"] == unknown.json()["message"]
        assert not any(c["caller"] == m1 for c in report(stack, rival, "rival"))

        # rtpengine's capture and metadata are gone once collected.
        assert not list((spool / "pcaps").glob("*")) and not list((spool / "metadata").glob("*"))

        # The purge takes the call and its recording, file included.
        files = list((tmp_path / "recordings").rglob("*.wav"))
        assert len(files) == 1
        settings = Settings(
            database_url=stack.database_url, recordings_dir=str(tmp_path / "recordings")
        )
        purged = asyncio.run(purge_all(settings))
        assert (purged.calls, purged.recordings) == (1, 1)
        assert not files[0].exists()
        assert download(stack, recording["id"], "acme", stack.client_token).json()["code"] == 1000


def test_an_unrecorded_call_leaves_no_recording(
    tmp_path: Path, rtpengine: Rtpengine, spool: Path
) -> None:
    m1, m2 = "+919876500071", "+919812300071"
    with recording_stack(tmp_path, rtpengine, spool) as stack:
        did = str(stack.masking(m1, m2)["mask"])
        run_pair(stack, sipp.callee(m2, did, m1), sipp.caller(m1, did, m2, talk_ms=500))
        deadline = time.monotonic() + 10
        while not [c for c in report(stack) if c["caller"] == m1 and c["status"] == "completed"]:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        [call] = [c for c in report(stack) if c["caller"] == m1]
        assert call["recording"] is None
        time.sleep(1.5)  # a collection round
        assert not (tmp_path / "recordings").exists() or not list(
            (tmp_path / "recordings").rglob("*.wav")
        )


def test_the_account_default_records_maskings_that_do_not_say(
    tmp_path: Path, rtpengine: Rtpengine, spool: Path
) -> None:
    m1, m2 = "+919876500072", "+919812300072"
    with recording_stack(tmp_path, rtpengine, spool) as stack:
        account_rule(stack, "--record", "yes")
        did = str(stack.masking(m1, m2)["mask"])
        write_pcap(tmp_path / "tone.pcap", tone(TONE_HZ, 1.0))
        run_pair(
            stack,
            sipp.callee(m2, did, m1),
            sipp.caller(m1, did, m2, play=str(tmp_path / "tone.pcap"), talk_ms=2500),
        )
        assert settled(stack, m1)["recording"]["status"] == "ready"
        # A masking that says no is not recorded, whatever the account's default.
        m3 = "+919876500073"
        did = str(stack.masking(m3, m2, record=False)["mask"])
        run_pair(stack, sipp.callee(m2, did, m3), sipp.caller(m3, did, m2, talk_ms=500))
        time.sleep(1.0)
        assert [c["recording"] for c in report(stack) if c["caller"] == m3] == [None]


def test_a_prompt_that_cannot_be_played_means_no_recording(
    tmp_path: Path, rtpengine: Rtpengine, spool: Path
) -> None:
    m1, m2 = "+919876500074", "+919812300074"
    missing = {"recording_prompt": str(tmp_path / "no-such-prompt.wav")}
    with recording_stack(tmp_path, rtpengine, spool, **missing) as stack:
        did = str(stack.masking(m1, m2, record=True)["mask"])
        run_pair(stack, sipp.callee(m2, did, m1), sipp.caller(m1, did, m2, talk_ms=1000))
        recording = settled(stack, m1)["recording"]
        assert recording["status"] == "skipped"
        assert recording["reason"] == "the consent prompt could not be played"
        assert not list((spool / "pcaps").glob("*"))


def test_a_recording_lost_mid_call_leaves_the_call_up_and_the_record_marked(
    tmp_path: Path, rtpengine: Rtpengine, spool: Path
) -> None:
    m1, m2 = "+919876500075", "+919812300075"
    with recording_stack(tmp_path, rtpengine, spool) as stack:
        did = str(stack.masking(m1, m2, record=True)["mask"])
        gone: list[Path] = []

        def lose_capture() -> None:
            deadline = time.monotonic() + 10
            while not gone and time.monotonic() < deadline:
                for capture in (spool / "pcaps").glob("*.pcap"):
                    capture.unlink()
                    gone.append(capture)
                time.sleep(0.05)

        thief = threading.Thread(target=lose_capture)
        thief.start()
        # The call goes on to the caller's BYE (sipp fails otherwise).
        run_pair(stack, sipp.callee(m2, did, m1), sipp.caller(m1, did, m2, talk_ms=2000))
        thief.join()
        assert gone
        call = settled(stack, m1)
        assert call["status"] == "completed"
        assert call["recording"]["status"] == "failed"
        assert "capture is missing" in call["recording"]["reason"]
