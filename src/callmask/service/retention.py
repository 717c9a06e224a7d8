"""Retention: phone numbers are personal data, so what has ended is deleted after a while.

Ended maskings (their claims went when they ended), call records, webhook notices and the
delivery log older than CALLMASK_RETENTION_DAYS are deleted in batches of short transactions,
so a purge never holds a long lock and requests go on in between.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from callmask.domain.retention import Purged, cutoff_ms
from callmask.service.context import Context, storage_failures

BATCH = 1000


class Retention:
    def __init__(self, context: Context) -> None:
        self._context = context
        self.days = context.settings.retention_days

    def cutoff(self, days: int | None = None) -> int:
        """Before when what ended is deleted, for days (default: the configured retention)."""
        return cutoff_ms(self._context.now_ms(), self.days if days is None else days)

    def _delete(self, files: tuple[str, ...]) -> None:
        folder = self._context.settings.recordings_dir
        for file in files:
            if folder:
                Path(folder, file).unlink(missing_ok=True)

    async def purge(self, cutoff: int, batch: int = BATCH) -> Purged:
        total = Purged()
        with storage_failures():
            while True:
                step = await self._context.store.purge_step(cutoff, batch)
                # The rows are gone (committed): their audio goes too.
                self._delete(step.files)
                total += step
                if step.total <= 0:
                    return total
                await asyncio.sleep(0)
