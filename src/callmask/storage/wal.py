"""SQLite's write-ahead log, checkpointed off the request path and kept bounded.

Why the work is split between this thread and the event loop: docs/decisions.md, "WAL
checkpoints and restarts on the loop".
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable

BUSY_TIMEOUT_S = 5.0
CHECKPOINT_EVERY_S = 0.1
# Past this the event loop is asked to restart the log; four times it caps the file's size.
RESET_BYTES = 8 * 1024 * 1024


class Checkpointer(threading.Thread):
    """Moves the WAL into the database file, on a connection of its own, every 100 ms."""

    def __init__(self, path: str, too_long: Callable[[], None] | None) -> None:
        super().__init__(name="callmask-sqlite-checkpoint", daemon=True)
        self._path = path
        self._too_long = too_long
        self._stop_event = threading.Event()

    def run(self) -> None:
        conn = sqlite3.connect(self._path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            page = int(conn.execute("PRAGMA page_size").fetchone()[0])
            while not self._stop_event.wait(CHECKPOINT_EVERY_S):
                try:
                    _, wal_pages, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    # Under steady writes a passive checkpoint never gets to reset the WAL,
                    # which then grows without bound (400 MB in 8 s of set load). Resetting
                    # it from this thread makes the request connection wait in SQLite's busy
                    # handler, whose coarse sleeps stalled the event loop for 200-370 ms; so
                    # the reset is handed to the event loop, between two transactions.
                    if wal_pages * page > RESET_BYTES:
                        if self._too_long is not None:
                            self._too_long()
                        else:
                            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                except sqlite3.Error:
                    continue
        finally:
            conn.close()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)
