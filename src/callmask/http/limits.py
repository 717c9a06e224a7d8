"""In-process limits: token buckets per key, and lockouts after repeated failures.

Both are plain dictionaries touched on the event loop's thread, O(1) per request and capped
in size: a key whose state no longer matters (a full bucket, a passed window) is the first
to go, then the oldest. Each process keeps its own, so with `serve --workers N` the
effective limits are N times these.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable

# Enough for every client of a busy box; ~200 bytes a key, so a few MB at most.
MAX_KEYS = 20_000


def _shrink(
    table: dict[Hashable, list[float]], worth: Callable[[list[float]], tuple[float, float]]
) -> None:
    """Down to 3/4 of MAX_KEYS, dropping the entries worth least to keep first.

    Going well below the cap makes the sort happen once per MAX_KEYS/4 new keys.
    """
    excess = len(table) - MAX_KEYS * 3 // 4
    if excess > 0:
        ranked = sorted(table, key=lambda key: worth(table[key]))
        for key in ranked[:excess]:
            del table[key]


class TokenBuckets:
    """A bucket of `burst` tokens per key, refilled at `rate` tokens a second."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float]) -> None:
        self.rate = rate
        self.burst = max(burst, 1.0)
        self._clock = clock
        self._buckets: dict[Hashable, list[float]] = {}  # key -> [tokens, last refill]

    @classmethod
    def of(cls, rate: float, burst: float, clock: Callable[[], float]) -> TokenBuckets | None:
        """None when the limit is off (rate 0); a burst of 0 means one second's worth."""
        if rate <= 0:
            return None
        return cls(rate, burst or math.ceil(rate), clock)

    def take(self, key: Hashable) -> float:
        """Spend a token: 0.0 if there was one, else the seconds until there will be."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_KEYS:
                # A full bucket is as good as none; the emptiest are the ones limiting someone.
                _shrink(self._buckets, lambda state: (-self._tokens(state, now), 0.0))
            self._buckets[key] = [self.burst - 1.0, now]
            return 0.0
        elapsed = now - bucket[1]
        if elapsed > 0:  # a clock stepping back refills nothing
            tokens = bucket[0] + elapsed * self.rate
            bucket[0] = tokens if tokens < self.burst else self.burst
            bucket[1] = now
        if bucket[0] >= 1.0:
            bucket[0] -= 1.0
            return 0.0
        return (1.0 - bucket[0]) / self.rate

    def _tokens(self, state: list[float], now: float) -> float:
        return min(self.burst, state[0] + max(0.0, now - state[1]) * self.rate)

    def __len__(self) -> int:
        return len(self._buckets)


class FailureThrottle:
    """Locks a key out for `window_s` once it fails `limit` times within `window_s`.

    Success does not reset the count: an attacker holding one valid account could otherwise
    interleave its own logins to keep guessing others'.
    """

    def __init__(self, limit: int, window_s: float, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[Hashable, list[float]] = {}  # key -> [window start, count]
        # key -> [until]; empty but for an attack, so `if throttle.locked` is the usual check.
        self.locked: dict[Hashable, list[float]] = {}

    @classmethod
    def of(cls, limit: int, window_s: float, clock: Callable[[], float]) -> FailureThrottle | None:
        return cls(limit, window_s, clock) if limit > 0 else None

    def locked_for(self, key: Hashable) -> float:
        """Seconds the key stays locked out; 0.0 if it is not."""
        if not self.locked:  # the common case costs one truth test
            return 0.0
        until = self.locked.get(key)
        if until is None:
            return 0.0
        left = until[0] - self._clock()
        if left <= 0:
            del self.locked[key]
            return 0.0
        return left

    def fail(self, key: Hashable) -> None:
        now = self._clock()
        state = self._failures.get(key)
        if state is None or now - state[0] >= self.window_s:
            if state is None and len(self._failures) >= MAX_KEYS:
                # A passed window counts for nothing; then the oldest window, then the fewest.
                _shrink(self._failures, lambda s: (min(s[0], now - self.window_s), s[1]))
            state = self._failures[key] = [now, 0.0]
        state[1] += 1
        if state[1] >= self.limit:
            del self._failures[key]
            if len(self.locked) >= MAX_KEYS:
                _shrink(self.locked, lambda until: (until[0], 0.0))  # the soonest to end go first
            self.locked[key] = [now + self.window_s]
