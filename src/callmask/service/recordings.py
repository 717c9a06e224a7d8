"""Use cases of call recordings: what the collector finishes, what the report lists, and the
download, served to the account whose call it is and to no other."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from callmask.domain import fields, webhooks
from callmask.domain.errors import InvalidParameters
from callmask.domain.permissions import Permission
from callmask.domain.recordings import Recording
from callmask.service.accounts import Principal, permit
from callmask.service.context import Context, storage_failures
from callmask.storage.base import StorageUnavailable

log = logging.getLogger("callmask.service")

# The same answer for an id that does not exist and one of another account: the answer must
# not tell which ids exist.
_NOT_FOUND = "no recording with this id"


class Recordings:
    def __init__(self, context: Context) -> None:
        self._context = context
        self._store = context.store
        settings = context.settings
        self.folder = Path(settings.recordings_dir) if settings.recordings_dir else None

    async def of_call(self, call_id: str) -> Recording | None:
        with storage_failures(StorageUnavailable):
            return await self._store.recording_of_call(call_id)

    async def of_calls(self, call_ids: Sequence[str]) -> dict[str, Recording]:
        with storage_failures(StorageUnavailable):
            return await self._store.recordings_of(call_ids)

    async def finish(
        self,
        recording: Recording,
        *,
        file: str | None = None,
        duration_ms: int | None = None,
        size: int | None = None,
        reason: str | None = None,
    ) -> Recording | None:
        """The recording's audio is written (file given) or could not be (reason); announced
        to the call's account. None if it was finished already (nothing changed)."""
        done = dataclasses.replace(
            recording,
            status="ready" if file is not None else "failed",
            file=file,
            duration_ms=duration_ms,
            size=size,
            reason=None if file is not None else reason or "unknown",
        )
        now_ms = self._context.now_ms()
        outbox = self._context.outbox
        with storage_failures():
            async with self._store.transaction() as tx:
                if not await tx.finish_recording(done, now_ms):
                    return None
                announced = done.account_id is not None and await outbox.write(
                    tx, [webhooks.recording_finished(done, done.account_id, now_ms)]
                )
        if announced:
            outbox.on_notice()
        return done

    async def download(
        self, principal: Principal, params: Mapping[str, Any]
    ) -> tuple[Recording, Path]:
        """The recording named by params["id"], and its file, if the principal's account owns
        the call; InvalidParameters otherwise, the same for any id it does not own."""
        permit(principal, Permission.LIST_CALL_LOG)
        wanted = params.get("id")
        if not isinstance(wanted, str) or not wanted:
            raise InvalidParameters("id must name a recording (the recording.id of a call)")
        fields.printable(wanted, "id")
        with storage_failures(StorageUnavailable):
            found = await self._store.recording(wanted[:100])
        if found is None or found.account_id != principal.account_id:
            raise InvalidParameters(_NOT_FOUND)
        if found.status != "ready" or found.file is None:
            why = f": {found.reason}" if found.reason else ""
            raise InvalidParameters(f"recording {found.recording_id} is {found.status}{why}")
        path = self.path(found.file)
        if path is None or not path.is_file():
            log.warning("recording %s is ready but its file is missing", found.recording_id)
            raise InvalidParameters(f"recording {found.recording_id}'s file is missing")
        return found, path

    def path(self, file: str) -> Path | None:
        """Where a recording's file is (None when no recordings folder is configured)."""
        return None if self.folder is None else self.folder / file
