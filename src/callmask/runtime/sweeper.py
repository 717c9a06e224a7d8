"""The sweeper: closes lapsed maskings every sweep interval, and purges what is past the
retention period every purge interval."""

from __future__ import annotations

import asyncio
import logging
import time

from callmask.config import Settings
from callmask.runtime.tasks import Loop
from callmask.service.maskings import Maskings
from callmask.service.retention import Retention

log = logging.getLogger("callmask.http")


class Sweeper:
    def __init__(self, maskings: Maskings, retention: Retention, settings: Settings) -> None:
        self._maskings = maskings
        self._retention = retention
        self._settings = settings
        self._loop = Loop("callmask-sweeper", self.run)

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def run(self) -> None:
        settings = self._settings
        last_purge: float | None = None  # the first sweep purges too: a restart does not wait
        while True:
            await asyncio.sleep(settings.sweep_interval_seconds)
            try:
                closed = await self._maskings.sweep()
                if closed:
                    log.info("sweeper closed %d lapsed maskings", closed)
            except Exception as error:
                log.warning("sweep failed: %s", type(error).__name__)
            if settings.retention_days and (
                last_purge is None
                or time.monotonic() - last_purge >= settings.purge_interval_seconds
            ):
                last_purge = time.monotonic()
                try:
                    purged = await self._retention.purge(self._retention.cutoff())
                    if purged.total:
                        log.info("purged past retention: %s", purged)
                except Exception as error:
                    log.warning("purge failed: %s", type(error).__name__)
