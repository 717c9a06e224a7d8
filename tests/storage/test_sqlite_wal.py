"""The SQLite write-ahead log is restarted on the event loop and trimmed to its cap.

docs/decisions.md, "WAL checkpoints and restarts on the loop".
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from callmask.bootstrap import build_services
from callmask.config import Settings
from callmask.domain.numbers import E164
from callmask.storage import sqlite, wal
from tests.support import principal

pytestmark = pytest.mark.anyio

_RESET_BYTES = 256 * 1024
_CAP = 4 * _RESET_BYTES  # journal_size_limit


def _restarts(statements: list[str]) -> int:
    return sum("wal_checkpoint(RESTART)" in statement for statement in statements)


async def test_wal_is_restarted_on_the_loop_and_trimmed_after_a_burst_of_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wal, "RESET_BYTES", _RESET_BYTES)
    path = tmp_path / "wal.db"
    log = Path(f"{path}-wal")
    store = sqlite.SqliteStore(str(path))
    try:
        await store.migrate()
        await store.add_pool_numbers("acme", [E164("+918040000000")], 0)
        statements: list[str] = []
        store._conn.set_trace_callback(statements.append)
        service = build_services(store, Settings())
        who = principal()
        deadline = time.monotonic() + 1.5
        made = largest = 0
        while time.monotonic() < deadline:
            await service.maskings.set_masking(who, f"+91980{made:07d}", f"+91970{made:07d}")
            made += 1
            largest = max(largest, log.stat().st_size)
            if made % 50 == 0:
                await asyncio.sleep(0)
        # Each set writes ~60 kB of WAL pages: far more than the cap went through the log.
        assert made > 200
        assert largest > _CAP
        # Once idle, the checkpoint thread asks the loop to restart the log.
        burst_restarts = _restarts(statements)
        waited = time.monotonic() + 10
        while _restarts(statements) == burst_restarts and time.monotonic() < waited:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        # The next write starts the log over and trims the file to its cap.
        await service.maskings.set_masking(who, "+919899999999", "+919799999999")
        assert log.stat().st_size <= _CAP
        # The request connection only ever restarts the log; truncating stalled the loop. The
        # last restart may come at the burst's very end (under load, CI saw it), leaving
        # nothing to restart once idle: what the log holds now is checked below.
        assert _restarts(statements) > 0
        assert not any("wal_checkpoint(TRUNCATE)" in s for s in statements), statements
        reader = sqlite3.connect(path)
        try:
            assert reader.execute("PRAGMA journal_mode").fetchone() == ("wal",)
            # Left in the log is about that last set alone: it was started over, not only
            # copied into the database.
            busy, frames, _ = reader.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            page = reader.execute("PRAGMA page_size").fetchone()[0]
            assert busy == 0 and 0 < frames * page < _RESET_BYTES, frames
        finally:
            reader.close()
    finally:
        await store.close()
