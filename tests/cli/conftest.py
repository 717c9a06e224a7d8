"""Fixtures of the CLI tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from callmask.config import Settings


@pytest.fixture
def cli_settings(tmp_path: Path) -> Settings:
    """Settings on a fresh SQLite file of the test's own."""
    return Settings(database_url=f"sqlite:///{tmp_path / 'cli.db'}")
