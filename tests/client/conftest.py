"""The client's tests run against the real app on a real socket: the `live` server of
tests/conftest.py, with a recordings folder and an analyst who holds every permission."""

from __future__ import annotations

from pathlib import Path

import pytest

from callmask.config import Settings
from callmask.domain.permissions import Permission
from tests.support import OFF, Live, add_user


@pytest.fixture
def settings(db_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Limits off unless a test chooses some (tests.support.limits)."""
    chosen = {**OFF, **getattr(request, "param", {})}
    return Settings(
        database_url=db_url,
        sweep_interval_seconds=3600,
        recordings_dir=str(tmp_path / "recordings"),
        **chosen,  # type: ignore[arg-type]
    )


@pytest.fixture
def analyst(live: Live) -> str:
    """acme-ops: every permission of account acme, the call log included."""
    return add_user(live, "acme-ops", "acme", *Permission)
