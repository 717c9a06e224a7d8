"""Tokens and sessions beyond the login path: rotation with a grace period, ssid revocation."""

from __future__ import annotations

from callmask.domain.accounts import Session, User
from callmask.storage.sql import USER_COLUMNS, Executor, user

# SET expressions read the row as it was, so the replaced token moves to previous_token_hash.
ROTATE_TOKEN = (
    "UPDATE users SET previous_token_hash = token_hash, previous_until_ms = ?, token_hash = ?"
    " WHERE user_id = ?"
)
ROTATE_TOKEN_AT_ONCE = (
    "UPDATE users SET previous_token_hash = NULL, previous_until_ms = NULL, token_hash = ?"
    " WHERE user_id = ?"
)
PREVIOUS_TOKEN_USER = (
    f"SELECT {USER_COLUMNS}, previous_until_ms FROM users"
    " WHERE user_id = ? AND previous_token_hash = ? AND previous_until_ms > ?"
)
PREVIOUS_TOKEN_BEARER = (
    f"SELECT {USER_COLUMNS}, previous_until_ms FROM users"
    " WHERE previous_token_hash = ? AND previous_until_ms > ?"
)
PREVIOUS_UNTIL = "SELECT previous_until_ms FROM users WHERE user_id = ?"
SESSIONS_OF = (
    "SELECT ssid_hash, user_id, expires_ms FROM sessions WHERE user_id = ? ORDER BY expires_ms"
)
INSERT_SESSION = (
    "INSERT INTO sessions (ssid_hash, user_id, token_hash, expires_ms) VALUES (?, ?, ?, ?)"
)
# The user's ssids beyond the newest `keep` (by expiry, so the oldest go first).
TRIM_SESSIONS = (
    "DELETE FROM sessions WHERE user_id = ? AND ssid_hash NOT IN (SELECT ssid_hash FROM sessions"
    " WHERE user_id = ? ORDER BY expires_ms DESC, ssid_hash DESC LIMIT ?)"
)
# Before the token changes: the ssids of tokens already replaced end now, those of the token
# being replaced end with its grace (SESSION_USER holds to the same rule for late arrivals).
DROP_REPLACED_SESSIONS = (
    "DELETE FROM sessions WHERE user_id = ? AND (token_hash IS NULL"
    " OR token_hash <> (SELECT token_hash FROM users WHERE user_id = ?))"
)
SHORTEN_SESSIONS = "UPDATE sessions SET expires_ms = ? WHERE user_id = ? AND expires_ms > ?"
REVOKE_SESSION = "DELETE FROM sessions WHERE ssid_hash = ?"
REVOKE_SESSIONS_OF = "DELETE FROM sessions WHERE user_id = ?"


async def rotate_token(
    db: Executor, user_id: str, token_hash: str, previous_until_ms: int | None
) -> bool:
    """Replace the token; the old one keeps working until previous_until_ms (None: not at all),
    and so do the ssids made from it. Run in a transaction."""
    if previous_until_ms is None:
        await db.execute(REVOKE_SESSIONS_OF, user_id)
        return await db.execute(ROTATE_TOKEN_AT_ONCE, token_hash, user_id) == 1
    await db.execute(DROP_REPLACED_SESSIONS, user_id, user_id)
    await db.execute(SHORTEN_SESSIONS, previous_until_ms, user_id, previous_until_ms)
    return await db.execute(ROTATE_TOKEN, previous_until_ms, token_hash, user_id) == 1


async def add_session(db: Executor, session: Session, token_hash: str, keep: int) -> int:
    """Run in a transaction; how many older ssids of the user were revoked to keep `keep`."""
    await db.execute(
        INSERT_SESSION, session.ssid_hash, session.user_id, token_hash, session.expires_ms
    )
    return await db.execute(TRIM_SESSIONS, session.user_id, session.user_id, keep)


async def previous_token_user(
    db: Executor, user_id: str | None, token_hash: str, now_ms: int
) -> tuple[User, int] | None:
    """The user whose replaced token this is, and when its grace period ends."""
    if user_id is None:
        rows = await db.fetch(PREVIOUS_TOKEN_BEARER, token_hash, now_ms)
    else:
        rows = await db.fetch(PREVIOUS_TOKEN_USER, user_id, token_hash, now_ms)
    return (user(rows[0]), int(rows[0][5])) if rows else None


async def previous_until(db: Executor, user_id: str) -> int | None:
    rows = await db.fetch(PREVIOUS_UNTIL, user_id)
    return int(rows[0][0]) if rows and rows[0][0] is not None else None


async def sessions_of(db: Executor, user_id: str) -> list[Session]:
    """Expired ones too, until the sweeper drops them."""
    rows = await db.fetch(SESSIONS_OF, user_id)
    return [Session(row[0], row[1], int(row[2])) for row in rows]


async def revoke_session(db: Executor, ssid_hash: str) -> int:
    return await db.execute(REVOKE_SESSION, ssid_hash)


async def revoke_sessions_of(db: Executor, user_id: str) -> int:
    return await db.execute(REVOKE_SESSIONS_OF, user_id)
