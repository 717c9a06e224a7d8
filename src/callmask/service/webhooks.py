"""Use cases of webhooks: each account's callback, leasing notices for delivery, the log."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from callmask.domain import webhooks
from callmask.domain.errors import InvalidParameters
from callmask.domain.paging import Cursor, Page, cut, widened
from callmask.domain.permissions import Permission
from callmask.domain.webhooks import Attempt, Claimed, Delivery, DeliveryQuery, Webhook
from callmask.service.accounts import Principal, permit
from callmask.service.context import Context, storage_failures

_MAX_URL = 2000
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class DeliveryPage:
    deliveries: list[Delivery]
    next_cursor: str | None


def _checked_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > _MAX_URL:
        raise InvalidParameters("the webhook URL must be http:// or https:// with a host")
    return url.strip()


async def _guarded(work: Awaitable[T]) -> T:
    with storage_failures():
        return await work


def _receiver_down(http_status: int | None) -> bool:
    """No answer, an overloaded or broken receiver: not something one notice did wrong."""
    return http_status is None or http_status >= 500 or http_status == 429


class Webhooks:
    def __init__(self, context: Context) -> None:
        self._context = context
        self._store = context.store
        self.settings = settings = context.settings
        self.now_ms = context.now_ms
        self.timeout_s = settings.webhook_timeout_seconds
        # A lease outlives the attempt (bounded by timeout_s) with room to record it.
        self.lease_ms = int((2 * settings.webhook_timeout_seconds + 1) * 1000)

    # -- configuration (the CLI) ------------------------------------------------------------

    async def set_webhook(self, account_id: str, url: str) -> str:
        """Point the account's notices at url with a new secret, which is returned (once)."""
        secret = webhooks.new_secret()
        hook = Webhook(account_id, _checked_url(url), secret, self.now_ms())
        await _guarded(self._store.set_webhook(hook))
        return secret

    async def webhook(self, account_id: str) -> Webhook | None:
        return await _guarded(self._store.webhook(account_id))

    async def remove_webhook(self, account_id: str) -> bool:
        return await _guarded(self._store.remove_webhook(account_id))

    async def counts(self, account_id: str) -> dict[str, int]:
        return await _guarded(self._store.outbox_counts(account_id))

    async def log(self, account_id: str, limit: int) -> list[Delivery]:
        return await _guarded(self._store.deliveries(DeliveryQuery(account_id, Page(limit))))

    # -- the delivery log (the API) ---------------------------------------------------------

    async def deliveries(self, principal: Principal, params: Mapping[str, Any]) -> DeliveryPage:
        permit(principal, Permission.LIST_WEBHOOK_LOG)
        query = webhooks.delivery_query(params, principal.account_id)
        wider = dataclasses.replace(query, page=widened(query.page))
        found = await _guarded(self._store.deliveries(wider))
        return DeliveryPage(
            *cut(found, query.page, lambda last: Cursor(last.attempted_ms, str(last.delivery_id)))
        )

    # -- delivery (the deliverer) -----------------------------------------------------------

    async def claim(self, limit: int) -> list[Claimed]:
        return await _guarded(self._store.claim_notices(self.now_ms(), self.lease_ms, limit))

    async def finish(
        self, claimed: Claimed, http_status: int | None, error: str | None, duration_ms: int
    ) -> Attempt:
        """Record one attempt: delivered on 2xx, else retried with backoff up to the limit."""
        now_ms = self.now_ms()
        first_ms = int(self.settings.webhook_retry_seconds * 1000)
        delay_ms = webhooks.retry_delay_ms(claimed.attempt, first_ms)
        if http_status is not None and 200 <= http_status < 300:
            outcome = "delivered"
        elif claimed.attempt >= self.settings.webhook_max_attempts:
            outcome = "failed"
        else:
            outcome = "retry"
        delivered = outcome == "delivered"
        attempt = Attempt(
            claimed,
            now_ms,
            http_status,
            error,
            duration_ms,
            outcome,
            now_ms + delay_ms,
            now_ms + delay_ms if not delivered and _receiver_down(http_status) else None,
        )
        await _guarded(self._store.finish_attempt(attempt))
        return attempt
