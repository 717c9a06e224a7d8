"""The SQLite write-ahead log stays bounded under steady writes."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from callmask.bootstrap import build_services
from callmask.config import Settings
from callmask.domain.numbers import E164
from callmask.storage import sqlite
from tests.conftest import principal

pytestmark = pytest.mark.anyio


async def test_wal_is_reset_after_a_burst_of_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite, "_WAL_RESET_BYTES", 256 * 1024)
    path = tmp_path / "wal.db"
    store = sqlite.SqliteStore(str(path))
    try:
        await store.migrate()
        await store.add_pool_numbers("acme", [E164("+918040000000")], 0)
        service = build_services(store, Settings())
        who = principal()
        deadline = time.monotonic() + 1.5
        made = 0
        while time.monotonic() < deadline:
            await service.maskings.set_masking(who, f"+91980{made:07d}", f"+91970{made:07d}")
            made += 1
            if made % 50 == 0:
                await asyncio.sleep(0)
        await asyncio.sleep(1.0)
        # The log is restarted once idle, and the next write trims the file to its cap.
        await service.maskings.set_masking(who, "+919899999999", "+919799999999")
        # Each set writes ~60 kB of WAL pages, so far more than the cap went through the log.
        assert made > 200
        assert Path(f"{path}-wal").stat().st_size <= 4 * 256 * 1024
    finally:
        await store.close()
    assert os.path.exists(path)
