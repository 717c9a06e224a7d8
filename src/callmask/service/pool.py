"""Use cases of the pool of virtual numbers: adding, listing and removing numbers, and how
close each account runs to answering 1505."""

from __future__ import annotations

from callmask.domain import webhooks
from callmask.domain.numbers import E164
from callmask.domain.pool import AccountPressure, PoolNumber
from callmask.service.context import Context


class Pool:
    def __init__(self, context: Context) -> None:
        self._context = context
        self._store = context.store
        self._outbox = context.outbox

    async def add(self, account_id: str, numbers: list[E164]) -> int:
        """Add numbers to an account's pool; how many were new. A number of another account's
        pool is refused (WriteFailed) and nothing is added."""
        return await self._store.add_pool_numbers(account_id, numbers, self._context.now_ms())

    async def numbers(self, account_id: str | None = None) -> list[PoolNumber]:
        """The pool (of one account, or of all), with each number's live maskings."""
        return await self._store.pool(account_id, self._context.now_ms())

    async def remove(self, numbers: list[E164], force: bool) -> int:
        """Take numbers out of the pool; with force their live maskings end ("number removed")."""
        now_ms = self._context.now_ms()
        async with self._context.store.transaction() as tx:
            removed, ended = await tx.remove_pool_numbers(numbers, now_ms, force)
            notices = [webhooks.masking_ended(m, now_ms, "number removed", now_ms) for m in ended]
            await self._outbox.write(tx, notices)
        return removed

    async def pressure(self) -> list[AccountPressure]:
        """Per account: pool size, live maskings, and the most live claims one party holds."""
        return await self._store.pressure(self._context.now_ms())
