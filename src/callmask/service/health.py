"""Whether this process can serve: the database answers and has every shipped migration."""

from __future__ import annotations

import asyncio

from callmask.service.context import Context
from callmask.storage.base import StorageError


class Health:
    def __init__(self, context: Context) -> None:
        self._store = context.store

    async def checks(self, timeout_s: float) -> dict[str, str]:
        """Each check's state: "ok", or what is wrong (the database must answer in timeout_s)."""
        try:
            missing = await asyncio.wait_for(self._store.pending_migrations(timeout_s), timeout_s)
        except (StorageError, TimeoutError) as error:
            return {
                "database": f"unreachable ({type(error).__name__})",
                "migrations": "unknown",
            }
        return {"database": "ok", "migrations": f"pending {missing}" if missing else "ok"}
