"""The recording collector: turns each call rtpengine recorded into one WAV, after the call.

rtpengine (--recording-method=pcap) writes a capture per recorded call under its recording
folder, pcaps/<call-id>-<hex>.pcap, and moves the call's metadata file into metadata/ when the
call is deleted (its first line names the capture). The collector takes each finished call
from there, writes <CALLMASK_RECORDINGS_DIR>/<account>/<recording id>.wav (the consent prompt,
then both parties mixed), records the outcome and deletes rtpengine's files. Several `serve`
processes may run it on one folder: a metadata file is claimed by renaming it first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import time
from pathlib import Path
from urllib.parse import unquote

from callmask.domain.recordings import Recording, file_name
from callmask.runtime.audio import RecordingUnreadable, pcap_to_wav
from callmask.runtime.tasks import Loop
from callmask.service.recordings import Recordings

log = logging.getLogger("callmask.recordings")

_METADATA = re.compile(r"rtpengine-meta-(.+)-[0-9a-f]{16}\.txt")
# A capture whose recording row has not arrived (the proxy's events are delayed) waits this
# long before it is taken as nobody's and deleted.
ORPHAN_SECONDS = 600.0
# A claim this old belongs to a process that died while collecting (a conversion takes
# seconds): its metadata file is put back for anyone to take.
STALE_CLAIM_SECONDS = 300.0
_CLAIMED = re.compile(r"(rtpengine-meta-.+\.txt)\.\d+\.claimed")


class RecordingCollector:
    def __init__(
        self,
        recordings: Recordings,
        spool: Path,
        folder: Path,
        prompt: Path | None,
        poll_seconds: float = 1.0,
    ) -> None:
        self._recordings = recordings
        self._spool = spool
        self._folder = folder
        self._prompt = prompt
        self._poll_seconds = poll_seconds
        self._loop = Loop("callmask-recordings", self.run)

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def run(self) -> None:
        while True:
            try:
                await self.collect()
            except Exception as error:
                log.warning("recording collection failed: %s", type(error).__name__)
            await asyncio.sleep(self._poll_seconds)

    async def collect(self) -> int:
        """Every finished call waiting in the spool; return how many were taken."""
        taken = 0
        self._release_stale_claims()
        for metadata in sorted((self._spool / "metadata").glob("rtpengine-meta-*.txt")):
            found = _METADATA.fullmatch(metadata.name)
            if found is None:
                continue
            recording = await self._recordings.of_call(unquote(found.group(1)))
            if recording is None and _age(metadata) < ORPHAN_SECONDS:
                continue
            claimed = metadata.with_name(f"{metadata.name}.{os.getpid()}.claimed")
            try:
                metadata.rename(claimed)
                os.utime(claimed)  # the claim's age, for _release_stale_claims
            except FileNotFoundError:
                continue  # another process took it
            taken += 1
            capture = self._capture(claimed)
            try:
                if recording is None:
                    log.warning("a capture with no recording asked for it: deleted")
                elif recording.status == "recording":
                    await self._finish(recording, capture)
            finally:
                claimed.unlink(missing_ok=True)
                if capture is not None:
                    capture.unlink(missing_ok=True)
        return taken

    def _release_stale_claims(self) -> None:
        for claimed in (self._spool / "metadata").glob("rtpengine-meta-*.claimed"):
            found = _CLAIMED.fullmatch(claimed.name)
            if found is not None and _age(claimed) >= STALE_CLAIM_SECONDS:
                with contextlib.suppress(OSError):
                    claimed.rename(claimed.with_name(found.group(1)))
                    log.warning("took back a capture a stopped collector had claimed")

    def _capture(self, metadata: Path) -> Path | None:
        """The capture the metadata names, looked for in this spool (it may be mounted at
        another path here than where rtpengine runs)."""
        with contextlib.suppress(OSError, UnicodeDecodeError, IndexError):
            first = metadata.read_text().splitlines()[0].strip()
            if first:
                return self._spool / "pcaps" / Path(first).name
        return None

    async def _finish(self, recording: Recording, capture: Path | None) -> None:
        if capture is None or not capture.is_file():
            await self._recordings.finish(
                recording, reason="the capture is missing: rtpengine could not write it"
            )
            log.warning("recording %s failed: capture missing", recording.recording_id)
            return
        name = file_name(recording.account_id or "unassigned", recording.recording_id)
        wav = self._folder / name
        try:
            wav.parent.mkdir(parents=True, exist_ok=True)
            audio = await asyncio.to_thread(pcap_to_wav, capture, wav, self._prompt)
        except Exception as error:
            # The capture is deleted after this whatever happened: the row must say why.
            # ValueError: the prompt is not a mono 16-bit 8 kHz WAV (CALLMASK_RECORDING_PROMPT).
            reason = {
                RecordingUnreadable: str(error),
                ValueError: "the consent prompt is not a mono 16-bit 8 kHz WAV",
            }.get(type(error), f"the recording could not be made ({type(error).__name__})")
            await self._recordings.finish(recording, reason=reason)
            log.warning("recording %s failed: %s", recording.recording_id, reason)
            return
        done = await self._recordings.finish(
            recording, file=name, duration_ms=audio.duration_ms, size=audio.size
        )
        if done is None:
            wav.unlink(missing_ok=True)  # finished elsewhere meanwhile
            return
        log.info("recording %s ready: %d ms", recording.recording_id, audio.duration_ms)


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0.0
