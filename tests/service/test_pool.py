"""The pool's use cases: adding, listing and removing numbers, on both backends."""

from __future__ import annotations

import orjson
import pytest

from callmask.domain.errors import InvalidParameters, PoolExhausted
from callmask.domain.numbers import E164
from callmask.domain.pool import AccountPressure, PoolNumber
from callmask.domain.webhooks import Webhook
from callmask.service import Services
from callmask.storage.base import Store, WriteFailed
from tests.support import principal

pytestmark = pytest.mark.anyio

X, Y, Z = E164("+918040000000"), E164("+918040000001"), E164("+918040000002")
A, B, C = E164("+919876543210"), E164("+919812345678"), E164("+919800000000")


async def test_adding_counts_only_new_numbers_and_listing_shows_live_maskings(
    services: Services,
) -> None:
    assert await services.pool.add("acme", [X, Y]) == 2
    assert await services.pool.add("acme", [Y, Z]) == 1
    await services.maskings.set_masking(principal(), A, B)
    assert await services.pool.numbers("acme") == [
        PoolNumber(X, "acme", 1),
        PoolNumber(Y, "acme", 0),
        PoolNumber(Z, "acme", 0),
    ]
    assert await services.pool.numbers("nobody") == []


async def test_another_accounts_number_is_refused_and_nothing_is_added(
    services: Services,
) -> None:
    await services.pool.add("other", [Y])
    with pytest.raises(WriteFailed):
        await services.pool.add("acme", [X, Y])
    assert [n.number for n in await services.pool.numbers()] == [Y]


async def test_removing_a_number_in_use_needs_force_and_ends_its_maskings(
    services: Services, store: Store
) -> None:
    await services.pool.add("acme", [X, Y])
    await store.set_webhook(_hook())
    live = await services.maskings.set_masking(principal(), A, B)
    with pytest.raises(InvalidParameters, match="1 live maskings use these numbers"):
        await services.pool.remove([X], force=False)
    assert await services.pool.remove([X], force=True) == 1
    assert await services.pool.numbers("acme") == [PoolNumber(Y, "acme", 0)]
    ended = [
        orjson.loads(c.body)
        for c in await store.claim_notices(services.now_ms(), 60_000, 10)
        if c.kind == "masking.ended"
    ]
    assert [(n["data"]["maskingId"], n["data"]["endReason"]) for n in ended] == [
        (live.masking_id, "number removed")
    ]


async def test_pressure_names_the_busiest_party_against_the_pool(services: Services) -> None:
    await services.pool.add("acme", [X, Y, Z])
    await services.maskings.set_masking(principal(), A, B)
    await services.maskings.set_masking(principal(), A, C)
    assert await services.pool.pressure() == [AccountPressure("acme", 3, 2, 2)]


def _hook() -> Webhook:

    return Webhook("acme", "http://127.0.0.1:9/hook", "secret", 0)


async def test_each_1505_is_counted_for_the_accounts_pressure_chart(
    services: Services, store: Store
) -> None:
    await services.pool.add("acme", [X])
    await services.maskings.set_masking(principal(), A, B)
    for other in (C, E164("+919800000009")):
        with pytest.raises(PoolExhausted):
            await services.maskings.set_masking(principal(), A, other)
    hour = services.now_ms() - services.now_ms() % 3_600_000
    assert await store.refusals("acme", hour) == [(hour, 2)]
    assert await store.refusals("crew", hour) == []
