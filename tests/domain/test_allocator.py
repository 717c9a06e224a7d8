from __future__ import annotations

from callmask.domain.allocator import pick_number
from callmask.domain.numbers import E164

POOL = [E164(f"+91804000000{i}") for i in range(4)]


def test_lowest_free_number_is_picked() -> None:
    assert pick_number(POOL, {POOL[0], POOL[2]}) == POOL[1]


def test_previous_number_is_reused_when_free() -> None:
    assert pick_number(POOL, {POOL[0]}, previous=POOL[3]) == POOL[3]


def test_previous_number_is_skipped_when_busy_or_gone() -> None:
    assert pick_number(POOL, {POOL[3]}, previous=POOL[3]) == POOL[0]
    assert pick_number(POOL, set(), previous=E164("+918049999999")) == POOL[0]


def test_no_number_when_all_busy() -> None:
    assert pick_number(POOL, set(POOL)) is None
