"""The asyncio client against the live server: each method's happy path and paging."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from callmask.client import AsyncClient, Masking
from tests.receiver import Receiver
from tests.support import (
    DID0,
    NOW,
    A,
    B,
    C,
    Live,
    completed_calls,
    recorded_call,
    set_webhook,
)

pytestmark = pytest.mark.anyio


def party(n: int) -> str:
    return f"+9198123457{n:02d}"


def json_of(masking: Masking) -> dict[str, str]:
    return {
        "maskingId": masking.masking_id,
        "mask": masking.mask,
        "m1": masking.m1,
        "m2": masking.m2,
    }


@pytest.fixture
async def client(live: Live) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(live.url, user_id="acme", token=live.client_token) as client:
        yield client


@pytest.fixture
async def ops(live: Live, analyst: str) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(live.url, user_id="acme-ops", token=analyst) as client:
        yield client


async def test_set_unset_and_get(client: AsyncClient) -> None:
    masking = await client.set(A, B, event_id="order-1", expiry_duration=60, call_time_limit=30)
    assert (masking.m1, masking.m2, masking.mask, masking.event_id) == (A, B, DID0, "order-1")
    assert masking.expiry_time == NOW + 3600 and masking.call_time_limit == 30
    [found] = await client.get(event_id="order-1")
    assert found.masking_id == masking.masking_id and found.status == "active"
    [ended] = await client.unset(m1=A, m2=B)
    assert ended.masking_id == masking.masking_id
    [found] = await client.get(masking_id=masking.masking_id)
    assert found.status == "ended" and found.end_reason == "unset"


async def test_iter_maskings_walks_every_page(client: AsyncClient) -> None:
    made = {(await client.set(party(2 * n), party(2 * n + 1))).masking_id for n in range(5)}
    first = await client.list_maskings(limit=2)
    assert len(first.items) == 2 and first.next_cursor
    walked = [m.masking_id async for m in client.iter_maskings(limit=2)]
    assert len(walked) == 5 and set(walked) == made


async def test_iter_masklist_walks_every_page_and_downloads_a_recording(
    live: Live, client: AsyncClient, ops: AsyncClient
) -> None:
    masking = await client.set(A, B)
    ids = await asyncio.to_thread(completed_calls, live, json_of(masking), 3)
    other = await client.set(A, C, record=True)
    recording_id, audio = await asyncio.to_thread(recorded_call, live, json_of(other), "rec")
    calls = [call async for call in ops.iter_masklist(limit=2, order="asc")]
    assert [call.call_id for call in calls] == [*ids, "rec"]
    assert calls[-1].recording is not None and calls[-1].recording.id == recording_id
    assert await ops.recording(recording_id) == audio


async def test_iter_deliveries_walks_every_page(live: Live, client: AsyncClient) -> None:
    with Receiver().running() as receiver:
        await asyncio.to_thread(set_webhook, live, "acme", receiver.url)
        await client.set(A, B)
        await client.set(A, C)
        for _ in range(200):
            if len((await client.deliveries()).items) >= 2:
                break
            await asyncio.sleep(0.05)
    walked = [d async for d in client.iter_deliveries(limit=1, outcome="delivered")]
    assert len(walked) == 2 and {d.type for d in walked} == {"masking.created"}


async def test_an_ssid_it_creates_works_as_credentials(live: Live, client: AsyncClient) -> None:
    ssid = await client.create_ssid()
    async with AsyncClient(live.url, ssid=ssid.ssid) as by_ssid:
        assert (await by_ssid.set(A, B)).m2 == B
