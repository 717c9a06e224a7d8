"""The console's figures over time, read back from every backend: 1505s per hour, the
maskings' live spans, counts since an instant, the calls' facts, and an account-scoped
pool removal."""

from __future__ import annotations

import pytest

from callmask.domain.calls import CallEvent
from callmask.domain.masking import Masking
from callmask.domain.numbers import E164
from callmask.domain.trends import HOUR_MS
from callmask.storage.base import Store, WriteFailed

pytestmark = pytest.mark.anyio

A, B, C = E164("+919876543210"), E164("+919812345678"), E164("+919800000001")
X, Y, Z = E164("+918040000000"), E164("+918040000001"), E164("+918040000002")
# An hour boundary, so the hour arithmetic below reads plainly.
NOW = 1_767_225_600_000
assert NOW % HOUR_MS == 0


async def _masking(store: Store, masking_id: str, m1: E164, m2: E164, mask: E164, at: int) -> None:
    async with store.transaction() as tx:
        await tx.insert(Masking(masking_id, "acme", m1, m2, mask, None, at, at + 2 * HOUR_MS))


async def test_refusals_are_counted_per_account_and_hour(store: Store) -> None:
    for at in (NOW + 5, NOW + 60_000, NOW + HOUR_MS + 1, NOW - 3 * HOUR_MS):
        await store.note_refusal("acme", at)
    await store.note_refusal("crew", NOW)
    assert await store.refusals("acme", NOW + 30 * 60_000) == [(NOW, 2), (NOW + HOUR_MS, 1)]
    assert await store.refusals("acme", NOW - 3 * HOUR_MS) == [
        (NOW - 3 * HOUR_MS, 1),
        (NOW, 2),
        (NOW + HOUR_MS, 1),
    ]
    assert await store.refusals("crew", NOW) == [(NOW, 1)]
    assert await store.refusals("none", NOW) == []


async def test_spans_run_from_creation_to_the_end_or_the_expiry(store: Store) -> None:
    await store.add_pool_numbers("acme", [X, Y, Z], NOW)
    await store.add_pool_numbers("crew", [E164("+918050000000")], NOW)
    await _masking(store, "early", A, B, X, NOW - 5 * HOUR_MS)  # created before the look-back
    await _masking(store, "ended", A, C, Y, NOW)
    await _masking(store, "open", B, C, Z, NOW + 60_000)
    async with store.transaction() as tx:
        await tx.change_expiry(["ended"], NOW + 600_000, NOW + 600_000, "unset")
        await tx.insert(
            Masking("theirs", "crew", A, B, E164("+918050000000"), None, NOW, NOW + HOUR_MS)
        )
    spans = await store.masking_spans("acme", NOW, NOW + HOUR_MS, NOW - 4 * HOUR_MS)
    assert sorted(spans) == sorted(
        [(A, C, NOW, NOW + 600_000), (B, C, NOW + 60_000, NOW + 60_000 + 2 * HOUR_MS)]
    )
    # One that ended before the window does not show; nor one created after its end.
    assert await store.masking_spans("acme", NOW + 700_000, NOW + HOUR_MS, NOW - HOUR_MS) == [
        (B, C, NOW + 60_000, NOW + 60_000 + 2 * HOUR_MS)
    ]
    assert await store.masking_spans("acme", NOW, NOW + 1, NOW - HOUR_MS) == [
        (A, C, NOW, NOW + 600_000)
    ]


async def test_counts_since_an_instant_and_the_calls_facts(store: Store) -> None:
    await store.add_pool_numbers("acme", [X, Y], NOW)
    await _masking(store, "mk-1", A, B, X, NOW - HOUR_MS)
    await _masking(store, "mk-2", A, C, Y, NOW + 1)
    events = [
        CallEvent("start", "old", NOW - 10, masking_id="mk-1", mask=X, caller=A, callee=B),
        CallEvent("start", "talked", NOW + 10, masking_id="mk-1", mask=X, caller=B, callee=A),
        CallEvent("answer", "talked", NOW + 3_010, sip_status=200),
        CallEvent("end", "talked", NOW + 45_010, duration_s=42, sip_status=200),
        CallEvent("start", "busy", NOW + 20, masking_id="mk-2", mask=Y, caller=A, callee=C),
        CallEvent("failed", "busy", NOW + 2_020, duration_s=0, sip_status=486),
    ]
    for event in events:
        async with store.transaction() as tx:
            await tx.record_call_event(event, event.ts_ms)
    assert await store.maskings_since("acme", NOW) == 1
    assert await store.maskings_since("acme", NOW - HOUR_MS) == 2
    assert await store.maskings_since("crew", 0) == 0
    assert await store.calls_since("acme", NOW) == 2
    assert await store.calls_since("acme", NOW - HOUR_MS) == 3
    facts = sorted(await store.call_facts("acme", NOW, NOW + HOUR_MS))
    assert facts == [(NOW + 10, "completed", NOW + 3_010, 42), (NOW + 20, "failed", None, 0)]
    assert await store.call_facts("crew", 0, NOW + HOUR_MS) == []


async def test_an_account_removes_only_numbers_of_its_own_pool(store: Store) -> None:
    await store.add_pool_numbers("acme", [X], NOW)
    await store.add_pool_numbers("crew", [Y], NOW)
    for numbers in ([X, Y], [Y], [X, Z]):
        with pytest.raises(WriteFailed, match="not in this account's pool"):
            async with store.transaction() as tx:
                await tx.remove_pool_numbers(numbers, NOW, True, "acme")
    assert [n.number for n in await store.pool(None, NOW)] == [X, Y]
    async with store.transaction() as tx:
        assert await tx.remove_pool_numbers([X, X], NOW, False, "acme") == (1, [])
    assert [n.number for n in await store.pool(None, NOW)] == [Y]


async def test_the_purge_drops_the_refusal_hours_past_retention(store: Store) -> None:
    await store.note_refusal("acme", NOW - 2 * HOUR_MS)
    await store.note_refusal("acme", NOW)
    await store.purge_step(NOW - HOUR_MS, 100)
    assert await store.refusals("acme", 0) == [(NOW, 1)]
