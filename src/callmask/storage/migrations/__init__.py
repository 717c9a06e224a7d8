"""Versioned migrations: NNNN_name.sql files per dialect, each applied once, in order.

SqlStore.migrate (storage/store.py) runs them; released files are never edited.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

# The versions a database has; SqlStore.migrate applies the others, /readyz names them.
VERSIONS = (
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)"
)
APPLIED = "SELECT version FROM schema_migrations"


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations(dialect: str) -> list[Migration]:
    """Every migration shipped for a dialect ("sqlite" or "postgresql"), oldest first."""
    found = []
    for entry in resources.files(__package__).joinpath(dialect).iterdir():
        if entry.name.endswith(".sql"):
            version, _, name = entry.name.removesuffix(".sql").partition("_")
            found.append(Migration(int(version), name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda migration: migration.version)
    return found


def latest_version(dialect: str) -> int:
    return max((migration.version for migration in migrations(dialect)), default=0)
