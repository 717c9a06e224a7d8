"""What every group of use cases is given: the store, the settings, the clock and the outbox.

Use cases are composed from this (each group holds one), not inherited from a common base.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from callmask.config import Settings
from callmask.domain.errors import DatabaseUnavailable
from callmask.domain.webhooks import Notice
from callmask.storage.base import StorageError, StorageUnavailable, Store, Transaction, WriteFailed


class Outbox:
    """Notices written in the use case's own transaction, and who to wake once it commits.

    Every change that an account's webhook hears of writes its notice in the same transaction,
    so a crash between the commit and the delivery loses nothing.
    """

    def __init__(self) -> None:
        # The deliverer of this process sets this to its wake-up (runtime/delivery.py).
        self.on_notice: Callable[[], None] = lambda: None

    async def write(self, tx: Transaction, notices: list[Notice]) -> bool:
        """Whether any notice was stored (only accounts with a webhook get them)."""
        return bool(notices) and await tx.notify(notices) > 0


@dataclass(frozen=True, slots=True)
class Context:
    store: Store
    settings: Settings
    clock: Callable[[], float] = time.time
    outbox: Outbox = field(default_factory=Outbox)

    def now_ms(self) -> int:
        return int(self.clock() * 1000)


class storage_failures:  # noqa: N801 - used as a context manager, named like contextlib's
    """The one place a storage failure becomes DeepCall's 1010 "Error in DB connect".

    By default an unreachable database and a refused write both do; a read-only path names
    just StorageUnavailable. A class rather than a generator: route lookups pass through it.
    """

    __slots__ = ("_kinds",)

    def __init__(self, *kinds: type[StorageError]) -> None:
        self._kinds = kinds or (StorageUnavailable, WriteFailed)

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: object
    ) -> None:
        if kind is not None and issubclass(kind, self._kinds):
            raise DatabaseUnavailable() from error
