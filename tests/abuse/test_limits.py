"""The limiter's arithmetic and its memory bound, on a clock moved by hand."""

from __future__ import annotations

import pytest

from callmask.config import ConfigError, Settings
from callmask.http.limits import MAX_KEYS, FailureThrottle, TokenBuckets
from tests.support import Clock


def test_a_bucket_spends_its_burst_then_refills_at_the_rate() -> None:
    clock = Clock(100.0)
    buckets = TokenBuckets(rate=4.0, burst=2, clock=clock)
    assert [buckets.take("k") for _ in range(2)] == [0.0, 0.0]
    assert buckets.take("k") == 0.25
    clock.advance(0.25)
    assert buckets.take("k") == 0.0
    clock.advance(100)
    assert [buckets.take("k") > 0 for _ in range(3)] == [False, False, True]


def test_a_clock_stepping_back_refills_nothing() -> None:
    clock = Clock(100.0)
    buckets = TokenBuckets(rate=1.0, burst=1, clock=clock)
    assert buckets.take("k") == 0.0
    clock.advance(-50)
    assert buckets.take("k") > 0
    clock.advance(50.5)
    assert buckets.take("k") > 0  # half a token since the latest time seen
    clock.advance(0.5)
    assert buckets.take("k") == 0.0


def test_zero_turns_a_limit_off_and_a_zero_burst_is_one_seconds_worth() -> None:
    clock = Clock()
    assert TokenBuckets.of(0, 10, clock) is None
    assert FailureThrottle.of(0, 60, clock) is None
    buckets = TokenBuckets.of(2.5, 0, clock)
    assert buckets is not None and buckets.burst == 3


def test_buckets_stay_bounded_dropping_the_fullest_first() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=1.0, burst=10, clock=clock)
    for _ in range(10):
        buckets.take("busy")  # empty: must survive the flood
    for n in range(MAX_KEYS * 2):  # strangers, each one token down: less worth keeping
        clock.advance(0.00001)
        buckets.take(n)
    assert len(buckets) <= MAX_KEYS
    assert buckets.take("busy") > 0


def test_a_throttle_locks_after_limit_failures_in_a_window_and_stays_bounded() -> None:
    clock = Clock()
    throttle = FailureThrottle(limit=3, window_s=60, clock=clock)
    throttle.fail("x")
    throttle.fail("x")
    assert throttle.locked_for("x") == 0.0
    throttle.fail("x")
    assert throttle.locked_for("x") == 60
    clock.advance(30)
    assert throttle.locked_for("x") == 30
    clock.advance(30)
    assert throttle.locked_for("x") == 0.0
    for n in range(MAX_KEYS * 3):
        throttle.fail(n)
    assert len(throttle._failures) <= MAX_KEYS and len(throttle.locked) <= MAX_KEYS


def test_defaults_leave_room_for_a_busy_client_and_lock_out_a_guesser() -> None:
    defaults = Settings()
    # The benchmarks drive ~1,000 sets/s from one account and one address.
    assert defaults.rate_limit_account_per_second >= 2000
    assert defaults.rate_limit_ip_per_second >= defaults.rate_limit_account_per_second
    assert defaults.rate_limit_account_burst >= 2 * defaults.rate_limit_account_per_second
    assert 0 < defaults.auth_fail_limit_ip <= 20 and 0 < defaults.auth_fail_limit_user <= 20
    env = Settings.from_env({"CALLMASK_RATE_LIMIT_ACCOUNT_PER_SECOND": "0"})
    assert env.rate_limit_account_per_second == 0


def test_negative_limits_are_refused() -> None:
    with pytest.raises(ConfigError):
        Settings.from_env({"CALLMASK_AUTH_FAIL_LIMIT_IP": "-1"})
