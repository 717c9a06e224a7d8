"""When an idempotent call is sent again, and after how long."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from callmask.client.errors import DatabaseUnavailable, TooManyRequests, UnexpectedAnswer

# The request may not have arrived, or its answer did not (a bad URL or proxy setting is
# raised at once: sending it again would fail the same way).
_LOST = httpx.NetworkError | httpx.TimeoutException | httpx.RemoteProtocolError

# A gateway's answer that the request may never have reached callmask.
_GATEWAY = {502, 503, 504}


@dataclass(frozen=True)
class Retry:
    """Up to `attempts` sends in all, `backoff_s` doubling between them up to `max_backoff_s`;
    a 429's Retry-After is waited out in full, up to `max_retry_after_s` (longer: raised)."""

    attempts: int = 4
    backoff_s: float = 0.25
    max_backoff_s: float = 8.0
    max_retry_after_s: float = 60.0

    def delay(self, attempt: int, error: Exception) -> float | None:
        """Seconds to wait before sending again after failed attempt number `attempt` (from 1),
        or None to raise the error."""
        if attempt >= self.attempts:
            return None
        backoff = min(self.backoff_s * 2.0 ** (attempt - 1), self.max_backoff_s)
        if isinstance(error, TooManyRequests):
            if error.retry_after_s > self.max_retry_after_s:
                return None
            return max(backoff, error.retry_after_s)
        if isinstance(error, _LOST | DatabaseUnavailable):
            return backoff
        if isinstance(error, UnexpectedAnswer) and error.status in _GATEWAY:
            return backoff
        return None


NEVER = Retry(attempts=1)
