"""Retention: phone numbers are personal data, so what has ended is deleted after a while.

Ended maskings (their claims went when they ended), call records, webhook notices and the
delivery log older than CALLMASK_RETENTION_DAYS are deleted in batches of short transactions,
so a purge never holds a long lock and requests go on in between.
"""

from __future__ import annotations

import asyncio

from callmask.domain.errors import DatabaseUnavailable
from callmask.storage.base import Purged, StorageUnavailable, Store, WriteFailed

BATCH = 1000
_DAY_MS = 86_400_000


def cutoff_ms(now_ms: int, days: int) -> int:
    """Rows older than this go: ended before it (maskings) or started before it (calls)."""
    return now_ms - days * _DAY_MS


async def purge(store: Store, cutoff: int, batch: int = BATCH) -> Purged:
    total = Purged()
    try:
        while True:
            step = await store.purge_step(cutoff, batch)
            total += step
            if step.total <= 0:
                return total
            await asyncio.sleep(0)
    except (StorageUnavailable, WriteFailed) as error:
        raise DatabaseUnavailable() from error
