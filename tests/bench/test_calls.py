"""The call bench's stepping: up the ladder until a step fails a call, falls short, or caps."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bench import calls
from bench.calls import LADDER, Cpu, Step, achieved_rate, best_rate, next_rate, saturated


def step(rate: int, failed: int = 0, achieved: float | None = None, lost: int = 0) -> Step:
    """A step of 10 s at rate: `failed` calls sipp counted failed, `lost` never completed."""
    placed = rate * 10
    through = float(rate) if achieved is None else achieved
    return Step(rate, 10, placed, placed - failed - lost, failed, placed, 0.6, 1.2, through)


def climb(
    outcome: Callable[[int], Step], ladder: tuple[int, ...] = LADDER, cap: int = calls.CAP
) -> list[Step]:
    """What the runner's loop does, against a made-up system."""
    done: list[Step] = []
    while (rate := next_rate(ladder, cap, done)) is not None:
        done.append(outcome(rate))
        assert len(done) <= len(ladder), "the climb did not stop"
    return done


def test_the_climb_stops_at_the_first_step_with_a_failed_call() -> None:
    done = climb(lambda rate: step(rate, failed=3 if rate > 1000 else 0))
    assert [s.rate for s in done] == [100, 200, 400, 600, 800, 1000, 1200]
    assert best_rate(done) == 1000
    assert calls.stop_reason(LADDER, calls.CAP, done) == "3 failed calls at 1200 calls/s"


def test_calls_that_never_completed_count_as_a_failure() -> None:
    done = climb(lambda rate: step(rate, lost=1 if rate == 400 else 0))
    assert [s.rate for s in done] == [100, 200, 400]
    assert best_rate(done) == 200


def test_a_step_well_below_its_rate_stops_the_climb_and_is_not_the_best() -> None:
    done = climb(lambda rate: step(rate, achieved=rate * (0.85 if rate >= 800 else 0.97)))
    assert [s.rate for s in done] == [100, 200, 400, 600, 800]
    assert best_rate(done) == 600
    assert calls.stop_reason(LADDER, calls.CAP, done) == (
        "800 calls/s asked, 680 calls/s through Kamailio"
    )


def test_a_step_without_start_events_did_not_reach_its_rate() -> None:
    done = climb(lambda rate: Step(rate, 10, rate * 10, rate * 10, 0, 0, 0.0, 0.0, None))
    assert [s.rate for s in done] == [100] and best_rate(done) == 0


def test_the_cap_stops_a_system_that_never_fails() -> None:
    done = climb(step, cap=1000)
    assert [s.rate for s in done] == [100, 200, 400, 600, 800, 1000]
    assert calls.stop_reason(LADDER, 1000, done) == "the cap (1000 calls/s)"
    everything = climb(step)
    assert everything[-1].rate == calls.CAP == LADDER[-1]
    assert calls.stop_reason(LADDER, calls.CAP, everything) == "the top of the ladder"


def test_each_rate_is_tried_once_in_increasing_order_whatever_order_it_is_given_in() -> None:
    ladder = (300, 100, 200, 200)
    assert [s.rate for s in climb(step, ladder)] == [100, 200, 300]


def test_saturation_names_a_full_single_threaded_process_or_a_full_machine() -> None:
    calm = Cpu(kamailio=0.5, callmask=0.4, caller=0.3, callee=0.2, machine=1.5)
    assert saturated(calm, cores=2) == []
    assert calm.others == pytest.approx(0.1)
    busy = Cpu(kamailio=0.7, callmask=0.95, caller=0.9, callee=0.2, machine=1.85)
    assert saturated(busy, cores=2) == ["callmask", "sipp caller", "the machine (2 cores)"]
    # Kamailio's children spread over the cores: only the machine being full counts.
    spread = Cpu(kamailio=1.4, callmask=0.1, caller=0.1, callee=0.1, machine=None)
    assert saturated(spread, cores=2) == [] and spread.others is None


def test_the_rate_through_kamailio_is_read_from_the_start_times() -> None:
    assert achieved_rate([1_000 + 10 * n for n in range(101)]) == 100.0
    assert achieved_rate([5_000, 5_000]) is None
    assert achieved_rate([7]) is None and achieved_rate([]) is None
