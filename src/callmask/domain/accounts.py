"""Users of the API and their sessions, as stored: only hashes of tokens and ssids."""

from __future__ import annotations

from dataclasses import dataclass

from callmask.domain.permissions import Permission


@dataclass(frozen=True, slots=True)
class User:
    user_id: str
    account_id: str
    role: str
    token_hash: str
    permissions: frozenset[Permission] = frozenset()


@dataclass(frozen=True, slots=True)
class Session:
    """An ssid as stored: only its hash is kept."""

    ssid_hash: str
    user_id: str
    expires_ms: int
