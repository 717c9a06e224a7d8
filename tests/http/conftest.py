"""What the HTTP tests share on top of the `live` server: paths, parties, and the database file."""

from __future__ import annotations

import pytest

from callmask.domain.permissions import Permission
from tests.support import Live, add_user


@pytest.fixture
def analyst(live: Live) -> str:
    """A user of account acme who may read the call log and maskings, but not set them."""
    return add_user(live, "acme-ops", "acme", Permission.LIST_CALL_LOG, Permission.LIST_MASKING)
