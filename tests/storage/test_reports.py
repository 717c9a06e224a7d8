"""The call report and masking queries on a few thousand generated records, on every backend.

Each filter is checked against a plain-Python reference over the same records, and paging
is walked to the end in both orders: every record once, in (time, id) order.
"""

from __future__ import annotations

import dataclasses

import pytest

from callmask.domain.paging import Cursor, Page
from callmask.domain.reports import CallQuery, MaskingQuery
from callmask.storage.base import Store
from tests.backends import Database
from tests.reportdata import (
    DAY_MS,
    DIDS,
    FALLBACK,
    FORWARDED_CALLS,
    PARTIES,
    T0,
    Dataset,
    expected_calls,
    expected_maskings,
    generate,
)

pytestmark = pytest.mark.anyio

WINDOW = CallQuery("acme", T0, T0 + 10 * DAY_MS, Page(500))


@pytest.fixture
async def data(backend: tuple[Store, Database]) -> Dataset:
    return await generate(backend[1])


async def _all_calls(store: Store, query: CallQuery) -> list[str]:
    """Every page of the query, following cursors as a client does."""
    seen: list[str] = []
    page = query.page
    while True:
        found = await store.calls_page(dataclasses.replace(query, page=page))
        seen += [c.call_id for c in found]
        if len(found) < page.limit:
            return seen
        last = found[-1]
        assert last.started_ms is not None
        page = dataclasses.replace(page, after=Cursor(last.started_ms, last.call_id))


async def test_each_report_filter_matches_the_reference(store: Store, data: Dataset) -> None:
    some = data.calls[17]
    filters: list[dict[str, object]] = [
        {},
        {"start_ms": T0 + DAY_MS, "end_ms": T0 + 2 * DAY_MS},
        {"mask": DIDS[3]},
        {"party": PARTIES[11]},
        {"party": some.caller, "mask": some.mask},
        {"event_id": "order-3"},
        {"masking_id": some.masking_id},
        {"statuses": ("failed",)},
        {"statuses": ("answered", "ringing")},
        {"min_duration_s": 300},
        {"max_duration_s": 10},
        {"min_duration_s": 60, "max_duration_s": 120, "statuses": ("completed",)},
        {"party": PARTIES[0], "statuses": ("completed",), "min_duration_s": 1},
        {"actions": ("forward",)},
        {"actions": ("connect",)},
        {"actions": ("connect", "forward")},
        {"actions": ("forward",), "statuses": ("completed",), "mask": DIDS[3]},
        {"party": FALLBACK},
    ]
    for fields in filters:
        query = dataclasses.replace(WINDOW, **fields)  # type: ignore[arg-type]
        expected = [c.call_id for c in expected_calls(data, query)]
        assert await _all_calls(store, query) == expected, fields
    assert len(expected_calls(data, WINDOW)) == 3000 + FORWARDED_CALLS
    forwarded = dataclasses.replace(WINDOW, actions=("forward",))
    assert len(expected_calls(data, forwarded)) == FORWARDED_CALLS


@pytest.mark.parametrize("descending", [True, False])
async def test_paging_walks_every_call_once_in_time_then_id_order(
    store: Store, data: Dataset, descending: bool
) -> None:
    query = dataclasses.replace(WINDOW, page=Page(97, descending=descending))
    walked = await _all_calls(store, query)
    expected = [c.call_id for c in expected_calls(data, query)]
    assert walked == expected
    assert len(set(walked)) == len(walked) == 3000 + FORWARDED_CALLS
    # Calls share start times (whole seconds), so the id is what keeps pages apart.
    starts = [c.started_ms for c in expected_calls(data, query)]
    assert len(set(starts)) < len(starts)


async def test_a_page_starts_right_after_its_cursor_even_inside_a_tie(
    store: Store, data: Dataset
) -> None:
    ordered = expected_calls(data, WINDOW)
    tied = next(
        i for i in range(1, len(ordered)) if ordered[i].started_ms == ordered[i - 1].started_ms
    )
    cut = ordered[tied - 1]
    assert cut.started_ms is not None
    page = Page(5, Cursor(cut.started_ms, cut.call_id))
    found = await store.calls_page(dataclasses.replace(WINDOW, page=page))
    assert [c.call_id for c in found] == [c.call_id for c in ordered[tied : tied + 5]]


async def test_the_report_never_shows_another_account_or_unlinked_calls(
    store: Store, data: Dataset
) -> None:
    other = next(c for c in data.calls if c.account_id == "other")
    for fields in (
        {},
        {"masking_id": other.masking_id},
        {"mask": other.mask},
        {"party": other.caller},
    ):
        query = dataclasses.replace(WINDOW, **fields)  # type: ignore[arg-type]
        found = await _all_calls(store, query)
        assert all(call_id.startswith("acme") for call_id in found), fields
    assert await store.calls_page(dataclasses.replace(WINDOW, masking_id=other.masking_id)) == []
    ids = await _all_calls(store, WINDOW)
    assert "orphan" not in ids and "nostart" not in ids
    theirs = await _all_calls(store, dataclasses.replace(WINDOW, account_id="other"))
    assert len(theirs) == 300 and all(i.startswith("other") for i in theirs)


async def _all_maskings(store: Store, query: MaskingQuery) -> list[str]:
    seen: list[str] = []
    page = query.page
    while True:
        found = await store.maskings_page(dataclasses.replace(query, page=page))
        seen += [r.masking.masking_id for r in found]
        if len(found) < page.limit:
            return seen
        last = found[-1].masking
        page = dataclasses.replace(page, after=Cursor(last.created_ms, last.masking_id))


async def test_masking_filters_and_paging_match_the_reference(store: Store, data: Dataset) -> None:
    base = MaskingQuery("acme", data.now_ms, Page(13))
    some = data.maskings[5].masking
    filters: list[dict[str, object]] = [
        {},
        {"status": "active"},
        {"status": "ended"},
        {"party": some.m1},
        {"party": some.m2, "status": "ended"},
        {"mask": DIDS[2]},
        {"event_id": "order-3"},
        {"masking_id": some.masking_id},
        {"created_from_ms": T0 + DAY_MS, "created_to_ms": T0 + 3 * DAY_MS},
        {"expiry_from_ms": data.now_ms, "expiry_to_ms": data.now_ms + DAY_MS},
        {"page": Page(13, descending=False)},
        {"account_id": "other"},
    ]
    for fields in filters:
        query = dataclasses.replace(base, **fields)  # type: ignore[arg-type]
        expected = [r.masking.masking_id for r in expected_maskings(data, query)]
        assert await _all_maskings(store, query) == expected, fields
    statuses = {r.ended(data.now_ms) is None for r in data.maskings}
    assert statuses == {True, False}


async def test_a_masking_query_shows_when_and_why_each_one_ended(
    store: Store, data: Dataset
) -> None:
    ended = next(r for r in data.maskings if r.ended_ms is not None)
    query = MaskingQuery("acme", data.now_ms, Page(5), masking_id=ended.masking.masking_id)
    assert await store.maskings_page(query) == [ended]
    theirs = MaskingQuery("other", data.now_ms, Page(5), masking_id=ended.masking.masking_id)
    assert await store.maskings_page(theirs) == []
