"""bench.route_cpu drives the real app's route fast path and measures it."""

from __future__ import annotations

import asyncio

import pytest

from bench.route_cpu import _measure


def test_the_route_cpu_benchmark_connects_and_reports_a_time_per_lookup() -> None:
    # _measure raises unless the lookups it times answer "connect".
    [per_lookup] = asyncio.run(_measure(requests=50, rounds=1))
    assert 0 < per_lookup < 100_000


@pytest.mark.parametrize("path", ["reject", "forward"])
def test_the_route_cpu_benchmark_times_the_out_of_session_paths_too(path: str) -> None:
    # _measure raises unless the lookups it times answer with that action.
    [per_lookup] = asyncio.run(_measure(requests=50, rounds=1, path=path))
    assert 0 < per_lookup < 100_000
