"""Random set/unset/time sequences through the service on a real database of each backend.

After every step the whole maskings table must show no pool number carrying two live
maskings that share a party, and each allocation must be the one the reference allocator
(domain.allocator.pick_number) makes from a plain Python model of the live maskings and of
what each party let go of in the last hour.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callmask.bootstrap import build_services
from callmask.config import Settings
from callmask.domain.allocator import pick_number
from callmask.domain.errors import AlreadyMasked, InvalidParameters, PoolExhausted
from callmask.domain.masking import pair_key
from callmask.domain.numbers import E164
from callmask.storage.base import Store
from callmask.storage.sql import RECENT_RELEASES
from tests.backends import Database, fresh_store
from tests.support import VIOLATIONS, Clock, principal

PARTIES = [E164(f"+9198000000{i:02d}") for i in range(7)]
POOL = [E164(f"+91804000000{i}") for i in range(3)]

Set_ = st.tuples(
    st.just("set"),
    st.integers(0, len(PARTIES) - 1),
    st.integers(0, len(PARTIES) - 1),
    st.integers(1, 5),
)
Unset = st.tuples(st.just("unset"), st.integers(0, len(PARTIES) - 1), st.just(0), st.just(0))
Wait = st.tuples(st.just("wait"), st.integers(1, 400), st.just(0), st.just(0))


@dataclass
class Live:
    mask: E164
    expires_ms: int


HOUR_MS = 3_600_000


def _recent(released: list[tuple[int, E164]], now_ms: int) -> set[E164]:
    """What the store passes over: the party's latest releases, if within the hour."""
    latest = sorted(released, reverse=True)[:RECENT_RELEASES]
    return {mask for at, mask in latest if at > now_ms - HOUR_MS}


async def _run(ops: list[tuple[str, int, int, int]], kind: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        async with fresh_store(kind, Path(folder)) as (store, database):
            await _replay(ops, store, database)


async def _replay(ops: list[tuple[str, int, int, int]], store: Store, database: Database) -> None:
    clock = Clock()
    await store.add_pool_numbers("acme", POOL, 0)
    service = build_services(store, Settings(), clock)
    who = principal()
    model: dict[tuple[E164, E164], Live] = {}
    history: dict[tuple[E164, E164], E164] = {}
    released: dict[E164, list[tuple[int, E164]]] = {party: [] for party in PARTIES}

    def let_go(pair: tuple[E164, E164], live: Live, at_ms: int) -> None:
        for party in pair:
            released[party].append((at_ms, live.mask))

    for kind, i, j, minutes in ops:
        now_ms = service.now_ms()
        for pair, live in model.items():
            if live.expires_ms <= now_ms:
                let_go(pair, live, live.expires_ms)
        model = {pair: live for pair, live in model.items() if live.expires_ms > now_ms}
        if kind == "wait":
            clock.advance(i)
        elif kind == "unset":
            party = PARTIES[i]
            try:
                await service.maskings.unset_masking(who, m1=party)
            except InvalidParameters:
                assert not any(party in pair for pair in model)
            for pair, live in model.items():
                if party in pair:
                    let_go(pair, live, now_ms)
            model = {pair: live for pair, live in model.items() if party not in pair}
        else:
            m1, m2 = PARTIES[i], PARTIES[j]
            if m1 == m2:
                continue
            pair = pair_key(m1, m2)
            busy = {live.mask for p, live in model.items() if m1 in p or m2 in p}
            recent = _recent(released[m1], now_ms) | _recent(released[m2], now_ms)
            expected = pick_number(POOL, busy, history.get(pair), recent)
            try:
                masking = await service.maskings.set_masking(who, m1, m2, expiry_duration=minutes)
            except AlreadyMasked:
                assert pair in model
                continue
            except PoolExhausted:
                assert pair not in model and expected is None
                continue
            assert pair not in model
            assert masking.mask == expected
            model[pair] = Live(masking.mask, masking.expires_ms)
            history[pair] = masking.mask
        now_ms = service.now_ms()
        assert await database.rows(VIOLATIONS, now_ms, now_ms) == []


OPS = st.lists(st.one_of(Set_, Set_, Unset, Wait), min_size=1, max_size=40)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS)
def test_sqlite_never_lets_a_number_carry_two_live_maskings_sharing_a_party(
    ops: list[tuple[str, int, int, int]],
) -> None:
    asyncio.run(_run(ops, "sqlite"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS)
def test_postgresql_never_lets_a_number_carry_two_live_maskings_sharing_a_party(
    ops: list[tuple[str, int, int, int]],
) -> None:
    asyncio.run(_run(ops, "postgresql"))
