"""What every group of use cases holds: the store, the settings and the clock."""

from __future__ import annotations

import time
from collections.abc import Callable

from callmask.config import Settings
from callmask.storage.base import Store


class UseCases:
    def __init__(
        self, store: Store, settings: Settings, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.settings = settings
        self._clock = clock

    def now_ms(self) -> int:
        return int(self._clock() * 1000)
