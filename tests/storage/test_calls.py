"""Call records merged from call events, on every backend."""

from __future__ import annotations

import dataclasses
from itertools import permutations

import pytest

from callmask.domain.calls import CallEvent, CallRecord
from callmask.domain.masking import Masking
from callmask.domain.numbers import E164
from callmask.storage.base import Store

pytestmark = pytest.mark.anyio

A, B, X = E164("+919876543210"), E164("+919812345678"), E164("+918040000000")
NOW = 1_767_225_600_000
T0 = NOW + 1_000

START = CallEvent("start", "call-1", T0, masking_id="mk-1", mask=X, caller=A, callee=B)
ANSWER = CallEvent("answer", "call-1", T0 + 3_000, sip_status=200)
END = CallEvent("end", "call-1", T0 + 45_000, duration_s=42, sip_status=200)
BUSY = CallEvent("failed", "call-1", T0 + 2_000, duration_s=0, sip_status=486)

COMPLETED = CallRecord(
    "call-1",
    "acme",
    "mk-1",
    "order-7",
    X,
    A,
    B,
    T0,
    T0 + 3_000,
    T0 + 45_000,
    42,
    200,
    "completed",
    0,  # updated_ms: compared separately
)


async def _masking(store: Store, event_id: str | None = "order-7") -> None:
    await store.add_pool_numbers("acme", [X], NOW)
    async with store.transaction() as tx:
        await tx.insert(Masking("mk-1", "acme", A, B, X, event_id, NOW, NOW + 3_600_000))


async def _store(store: Store, event: CallEvent, now_ms: int) -> None:
    async with store.transaction() as tx:
        await tx.record_call_event(event, now_ms)


async def _record(store: Store, call_id: str = "call-1") -> CallRecord:
    record = await store.call(call_id)
    assert record is not None
    return record


def _without_time(record: CallRecord) -> CallRecord:
    return dataclasses.replace(record, updated_ms=0)


async def test_start_opens_a_ringing_record_linked_to_its_masking(store: Store) -> None:
    await _masking(store)
    await _store(store, START, NOW + 5)
    assert await _record(store) == CallRecord(
        "call-1", "acme", "mk-1", "order-7", X, A, B, T0, None, None, None, None, "ringing", NOW + 5
    )


async def test_start_for_a_masking_without_event_id_links_the_account_only(store: Store) -> None:
    await _masking(store, event_id=None)
    await _store(store, START, NOW)
    record = await _record(store)
    assert (record.account_id, record.masking_id, record.event_id) == ("acme", "mk-1", None)


async def test_start_naming_an_unknown_masking_is_stored_without_an_account(store: Store) -> None:
    await _store(store, START, NOW)
    record = await _record(store)
    assert (record.account_id, record.masking_id, record.outcome) == (None, "mk-1", "ringing")


async def test_start_answer_end_in_order_make_a_completed_call(store: Store) -> None:
    await _masking(store)
    await _store(store, START, NOW + 1)
    await _store(store, ANSWER, NOW + 2)
    answered = await _record(store)
    assert (answered.outcome, answered.sip_status, answered.answered_ms) == (
        "answered",
        200,
        T0 + 3_000,
    )
    await _store(store, END, NOW + 3)
    assert await _record(store) == dataclasses.replace(COMPLETED, updated_ms=NOW + 3)


async def test_failed_call_keeps_its_status_end_time_and_no_talk_time(store: Store) -> None:
    await _masking(store)
    await _store(store, START, NOW)
    await _store(store, BUSY, NOW)
    record = await _record(store)
    assert (record.outcome, record.sip_status, record.ended_ms, record.duration_s) == (
        "failed",
        486,
        T0 + 2_000,
        0,
    )
    assert (record.started_ms, record.answered_ms, record.caller) == (T0, None, A)


async def test_end_before_start_still_makes_the_whole_completed_record(store: Store) -> None:
    await _masking(store)
    await _store(store, END, NOW)
    early = await _record(store)
    assert (early.outcome, early.account_id, early.started_ms) == ("completed", None, None)
    await _store(store, START, NOW)
    await _store(store, ANSWER, NOW)
    assert _without_time(await _record(store)) == COMPLETED


async def test_answer_after_end_fills_answered_time_and_keeps_completed(store: Store) -> None:
    await _masking(store)
    await _store(store, START, NOW)
    await _store(store, END, NOW)
    await _store(store, ANSWER, NOW)
    record = await _record(store)
    assert (record.outcome, record.answered_ms, record.duration_s) == (
        "completed",
        T0 + 3_000,
        42,
    )


async def test_replaying_an_event_changes_nothing_not_even_updated_ms(store: Store) -> None:
    await _masking(store)
    for event in (START, ANSWER, END):
        await _store(store, event, NOW + 10)
    stored = await _record(store)
    for event in (START, ANSWER, END, END, START):
        await _store(store, event, NOW + 99_000)
    assert await _record(store) == stored


async def test_a_new_fact_moves_updated_ms(store: Store) -> None:
    await _store(store, START, NOW + 10)
    await _store(store, ANSWER, NOW + 20)
    assert (await _record(store)).updated_ms == NOW + 20


async def test_a_later_event_never_overwrites_what_an_earlier_one_set(store: Store) -> None:
    await _masking(store)
    await _store(store, START, NOW)
    await _store(store, END, NOW)
    other_start = dataclasses.replace(START, ts_ms=T0 + 9, caller=B, callee=A, mask=E164("+1"))
    other_end = dataclasses.replace(END, ts_ms=T0 + 99_000, duration_s=97)
    await _store(store, other_start, NOW + 1)
    await _store(store, other_end, NOW + 1)
    record = await _record(store)
    assert (record.started_ms, record.caller, record.callee, record.mask) == (T0, A, B, X)
    assert (record.ended_ms, record.duration_s) == (T0 + 45_000, 42)


async def test_every_arrival_order_of_a_call_gives_the_same_record(store: Store) -> None:
    await _masking(store)
    for number, order in enumerate(permutations((START, ANSWER, END, END))):
        call_id = f"call-{number}"
        for event in order:
            await _store(store, dataclasses.replace(event, call_id=call_id), NOW)
        record = await _record(store, call_id)
        assert _without_time(record) == dataclasses.replace(COMPLETED, call_id=call_id), order


async def test_a_call_ended_at_its_time_limit_says_so_whatever_the_order(store: Store) -> None:
    await _masking(store)
    limited = dataclasses.replace(END, ended_by="limit")
    for number, order in enumerate(permutations((START, ANSWER, limited))):
        call_id = f"call-{number}"
        for event in order:
            await _store(store, dataclasses.replace(event, call_id=call_id), NOW)
        # An end without the cause (a replay from an older proxy) does not erase it.
        await _store(store, dataclasses.replace(END, call_id=call_id), NOW)
        record = await _record(store, call_id)
        expected = dataclasses.replace(COMPLETED, call_id=call_id, ended_by="limit")
        assert _without_time(record) == expected, order


@pytest.mark.parametrize(
    ("events", "outcome", "sip_status"),
    [
        ((START,), "ringing", None),
        ((START, ANSWER), "answered", 200),
        ((START, BUSY), "failed", 486),
        ((START, ANSWER, END), "completed", 200),
        # Contradicting reports settle the same way in either order: the highest rank wins.
        ((ANSWER, BUSY), "failed", 486),
        ((BUSY, END), "completed", 200),
    ],
)
async def test_outcome_follows_the_highest_ranked_event_whatever_the_order(
    store: Store, events: tuple[CallEvent, ...], outcome: str, sip_status: int | None
) -> None:
    for number, order in enumerate((events, tuple(reversed(events)))):
        call_id = f"call-{number}"
        for event in order:
            await _store(store, dataclasses.replace(event, call_id=call_id), NOW)
        record = await _record(store, call_id)
        assert (record.outcome, record.sip_status) == (outcome, sip_status), order


FALLBACK = E164("+918012345678")
FORWARDED = CallEvent("start", "fwd-1", T0, mask=X, caller=A, callee=FALLBACK, action="forward")


async def test_a_forwarded_call_belongs_to_the_account_whose_pool_holds_the_did(
    store: Store,
) -> None:
    await store.add_pool_numbers("acme", [X], NOW)
    for number, order in enumerate(permutations((FORWARDED, ANSWER, END))):
        call_id = f"fwd-{number}"
        for event in order:
            await _store(store, dataclasses.replace(event, call_id=call_id), NOW)
        record = await _record(store, call_id)
        assert _without_time(record) == CallRecord(
            call_id,
            "acme",
            None,
            None,
            X,
            A,
            FALLBACK,
            T0,
            T0 + 3_000,
            T0 + 45_000,
            42,
            200,
            "completed",
            0,
            action="forward",
        ), order


async def test_a_forwarded_call_from_a_withheld_number_is_kept_without_a_caller(
    store: Store,
) -> None:
    await store.add_pool_numbers("acme", [X], NOW)
    await _store(store, dataclasses.replace(FORWARDED, caller=None), NOW)
    record = await _record(store, "fwd-1")
    assert (record.account_id, record.caller, record.action) == ("acme", None, "forward")


async def test_only_a_forwarded_call_takes_its_account_from_the_pool(store: Store) -> None:
    await store.add_pool_numbers("acme", [X], NOW)
    # A masked call naming a masking callmask does not know stays unlinked, as before.
    await _store(store, START, NOW)
    assert (await _record(store)).account_id is None
    # A forwarded call to a number no pool holds has no account either.
    await _store(store, dataclasses.replace(FORWARDED, mask=E164("+918049999999")), NOW)
    assert (await _record(store, "fwd-1")).account_id is None


async def test_an_unknown_call_has_no_record(store: Store) -> None:
    await _store(store, START, NOW)
    assert await store.call("call-2") is None
