"""Settings from CALLMASK_* variables."""

from __future__ import annotations

import pytest

from callmask.config import ConfigError, Settings


def test_the_global_call_time_limit_is_seconds_and_none_by_default() -> None:
    assert Settings().call_time_limit == 0
    assert Settings.from_env({"CALLMASK_CALL_TIME_LIMIT": "3600"}).call_time_limit == 3600


@pytest.mark.parametrize("bad", ["-1", "86401", "1.5", "an hour"])
def test_a_global_call_time_limit_outside_0_to_86400_seconds_is_refused(bad: str) -> None:
    with pytest.raises(ConfigError, match="CALLMASK_CALL_TIME_LIMIT"):
        Settings.from_env({"CALLMASK_CALL_TIME_LIMIT": bad})
