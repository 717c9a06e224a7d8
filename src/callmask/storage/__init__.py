"""One storage interface, a backend per database, chosen by the URL scheme."""

from __future__ import annotations

from callmask.config import Settings
from callmask.storage.base import Store


def open_store(settings: Settings) -> Store:
    """The backend for settings.database_url (sqlite: by default)."""
    if settings.database_url.startswith("sqlite:"):
        from callmask.storage.sqlite import SqliteStore

        return SqliteStore.from_url(settings.database_url, synchronous=settings.sqlite_synchronous)
    from callmask.storage.postgres import PostgresStore

    return PostgresStore(
        settings.database_url,
        pool_size=settings.db_pool_size,
        timeout_s=settings.db_timeout_seconds,
    )
