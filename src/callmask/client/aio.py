"""The asyncio client: the same methods as Client, awaited."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, TypeVar

import httpx

from callmask.client import operations as op
from callmask.client.credentials import Credentials
from callmask.client.errors import CallmaskError
from callmask.client.models import Call, Delivery, Masking, Page, Ssid
from callmask.client.retry import Retry

if TYPE_CHECKING:
    from typing_extensions import Unpack

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 10.0


class AsyncClient:
    """`AsyncClient(url, user_id=..., token=...)` or `AsyncClient(url, ssid=...)`, in an
    `async with`."""

    def __init__(
        self,
        base_url: str,
        *,
        user_id: str | None = None,
        token: str | None = None,
        ssid: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        retry: Retry | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.credentials = Credentials(user_id, token, ssid)
        self.retry = retry or Retry()
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout, transport=transport)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(self, operation: op.Operation[T]) -> T:
        attempt = 0
        while True:
            attempt += 1
            try:
                body = {**self.credentials.body(), **operation.params}
                return operation.read(await self._http.post(operation.path, json=body))
            except (httpx.TransportError, CallmaskError) as error:
                delay = self.retry.delay(attempt, error) if operation.idempotent else None
                if delay is None:
                    raise
                await asyncio.sleep(delay)

    async def set(
        self,
        m1: op.Number,
        m2: op.Number,
        *,
        event_id: str | None = None,
        expiry_time: op.Time | None = None,
        expiry_duration: int | str | None = None,
        call_time_limit: int | None = None,
        record: bool | None = None,
    ) -> Masking:
        """Sent again on a lost answer, 1010 or 429 only with an event_id."""
        return await self.send(
            op.set_masking(m1, m2, event_id, expiry_time, expiry_duration, call_time_limit, record)
        )

    async def unset(
        self,
        *,
        m1: op.Number | None = None,
        m2: op.Number | None = None,
        mask: op.Number | None = None,
        expiry_time: op.Time | None = None,
        expiry_duration: int | str | None = None,
    ) -> tuple[Masking, ...]:
        """The maskings ended (or moved); never sent twice."""
        return await self.send(op.unset_masking(m1, m2, mask, expiry_time, expiry_duration))

    async def get(
        self, *, masking_id: str | None = None, event_id: str | None = None
    ) -> tuple[Masking, ...]:
        return await self.send(op.get_maskings(masking_id, event_id))

    async def list_maskings(
        self,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        **filters: Unpack[op.MaskingFilters],
    ) -> Page[Masking]:
        return await self.send(op.list_maskings(filters, limit, cursor))

    def iter_maskings(
        self, *, limit: int | None = None, **filters: Unpack[op.MaskingFilters]
    ) -> AsyncIterator[Masking]:
        """Every masking the filters match, page after page."""
        return self._pages(lambda cursor: op.list_maskings(filters, limit, cursor))

    async def masklist(
        self,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        **filters: Unpack[op.CallFilters],
    ) -> Page[Call]:
        return await self.send(op.masklist(filters, limit, cursor))

    def iter_masklist(
        self, *, limit: int | None = None, **filters: Unpack[op.CallFilters]
    ) -> AsyncIterator[Call]:
        return self._pages(lambda cursor: op.masklist(filters, limit, cursor))

    async def deliveries(
        self,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        **filters: Unpack[op.DeliveryFilters],
    ) -> Page[Delivery]:
        return await self.send(op.deliveries(filters, limit, cursor))

    def iter_deliveries(
        self, *, limit: int | None = None, **filters: Unpack[op.DeliveryFilters]
    ) -> AsyncIterator[Delivery]:
        return self._pages(lambda cursor: op.deliveries(filters, limit, cursor))

    async def recording(self, recording_id: str) -> bytes:
        """A call's recording (a WAV), by its `Recording.id`."""
        return await self.send(op.recording(recording_id))

    async def create_ssid(self) -> Ssid:
        return await self.send(op.create_ssid())

    async def _pages(self, page: Callable[[str | None], op.Operation[Page[T]]]) -> AsyncIterator[T]:
        cursor: str | None = None
        while True:
            found = await self.send(page(cursor))
            for item in found.items:
                yield item
            if found.next_cursor is None:
                return
            cursor = found.next_cursor
