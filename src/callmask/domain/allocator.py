"""Which pool number a new masking gets.

A pool number may carry many maskings at once, as long as no two of them share a party:
a call to it is routed by who is calling. The fewest numbers any allocator can manage with
is the most concurrent maskings one party holds (delta). First fit - the lowest number free
for both parties - reached delta on realistic marketplace, call-centre and ride-hailing
traces (docs/decisions.md). Reusing the pair's previous number when free keeps one number
per contact for the people involved and cost nothing on those traces. Passing over numbers
either party let go of in the last hour, while another is free, keeps a callback on a number
just used from reaching someone new, and cost nothing on those traces either.

The storage backends run this same rule in SQL, so it costs O(deg(m1) + deg(m2)); this pure
form is the reference the tests hold them to.
"""

from __future__ import annotations

from collections.abc import Iterable, Set

from callmask.domain.numbers import E164


def pick_number(
    pool: Iterable[E164],
    busy: Set[E164],
    previous: E164 | None = None,
    recent: Set[E164] = frozenset(),
) -> E164 | None:
    """The pair's previous number if free, else the lowest pool number neither party is using
    nor let go of recently, else the lowest one neither party is using."""
    ordered = sorted(pool)
    if previous is not None and previous not in busy and previous in ordered:
        return previous
    free = [number for number in ordered if number not in busy]
    return next((number for number in free if number not in recent), free[0] if free else None)
