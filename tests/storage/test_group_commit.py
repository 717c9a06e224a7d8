"""SQLite group commit: transactions finishing in one turn share a COMMIT, and none is
acknowledged before its batch is durable; a failing unit takes only itself down."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from callmask.bootstrap import build_services
from callmask.config import Settings
from callmask.domain.errors import AlreadyMasked
from callmask.domain.numbers import E164
from callmask.service import Services
from callmask.storage.base import StorageUnavailable, WriteFailed
from callmask.storage.sqlite import SqliteStore
from tests.support import principal

pytestmark = pytest.mark.anyio

POOL = [E164(f"+9180400000{n:02d}") for n in range(40)]


async def _open(tmp_path: Path) -> tuple[SqliteStore, Services, list[str]]:
    store = SqliteStore(str(tmp_path / "group.db"))
    await store.migrate()
    await store.add_pool_numbers("acme", POOL, 0)
    statements: list[str] = []
    store._conn.set_trace_callback(statements.append)
    return store, build_services(store, Settings()), statements


def _stored_ids(tmp_path: Path) -> set[str]:
    """What another connection sees: only committed rows."""
    conn = sqlite3.connect(tmp_path / "group.db")
    try:
        return {row[0] for row in conn.execute("SELECT masking_id FROM maskings")}
    finally:
        conn.close()


async def test_concurrent_sets_share_one_commit_and_are_durable_when_answered(
    tmp_path: Path,
) -> None:
    store, service, statements = await _open(tmp_path)
    try:
        who = principal()
        seen_on_return: list[bool] = []

        async def one(n: int) -> str:
            masking = await service.maskings.set_masking(
                who, f"+9198000000{n:02d}", "+919700000000"
            )
            seen_on_return.append(masking.masking_id in _stored_ids(tmp_path))
            return masking.masking_id

        made = await asyncio.gather(*(one(n) for n in range(20)))
        assert len(set(made)) == 20
        # Every set was already committed, seen from another connection, when it returned.
        assert seen_on_return == [True] * 20
        commits = [s for s in statements if s.strip().upper() == "COMMIT"]
        assert 1 <= len(commits) < 5, commits
    finally:
        await store.close()


async def test_a_refused_unit_rolls_back_alone(tmp_path: Path) -> None:
    store, service, _ = await _open(tmp_path)
    try:
        who = principal()
        await service.maskings.set_masking(who, "+919800000001", "+919700000001")

        async def again() -> str:
            await service.maskings.set_masking(who, "+919800000001", "+919700000001")
            return "set"

        async def fresh(n: int) -> str:
            return (
                await service.maskings.set_masking(who, f"+9198000001{n:02d}", "+919700000001")
            ).mask

        results = await asyncio.gather(
            fresh(1), again(), fresh(2), again(), fresh(3), return_exceptions=True
        )
        assert isinstance(results[1], AlreadyMasked) and isinstance(results[3], AlreadyMasked)
        masks = [results[0], results[2], results[4]]
        assert all(isinstance(m, str) for m in masks) and len(set(masks)) == 3
        assert len(_stored_ids(tmp_path)) == 4
    finally:
        await store.close()


async def test_a_failed_commit_fails_every_unit_of_its_batch(tmp_path: Path) -> None:
    store, _, _ = await _open(tmp_path)
    try:

        async def orphan_claim() -> None:
            # A deferred foreign key is only checked at COMMIT, so the batch's COMMIT fails.
            async with store.transaction() as tx:
                await tx.execute("PRAGMA defer_foreign_keys = ON")
                await tx.execute(
                    "INSERT INTO claims (mask, party, masking_id, expires_ms)"
                    " VALUES (?, ?, 'no-such-masking', 1)",
                    POOL[0],
                    "+919800000009",
                )

        async def pool_add(n: int) -> None:
            async with store.transaction() as tx:
                await tx.execute(
                    "INSERT INTO pool_numbers (number, account_id, added_ms) VALUES (?, 'x', 0)",
                    f"+9180500000{n:02d}",
                )

        results = await asyncio.gather(
            pool_add(1), orphan_claim(), pool_add(2), return_exceptions=True
        )
        assert all(isinstance(r, WriteFailed | StorageUnavailable) for r in results), results
        conn = sqlite3.connect(tmp_path / "group.db")
        try:
            assert conn.execute("SELECT count(*) FROM pool_numbers").fetchone()[0] == len(POOL)
            assert conn.execute("SELECT count(*) FROM claims").fetchone()[0] == 0
        finally:
            conn.close()
        # The store goes on working after a failed batch.
        await pool_add(3)
        assert len(await store.pool("x", 0)) == 1
    finally:
        await store.close()
