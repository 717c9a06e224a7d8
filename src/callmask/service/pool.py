"""Use cases of the pool of virtual numbers: adding, listing and removing numbers, and how
close each account runs to answering 1505."""

from __future__ import annotations

from callmask.domain import webhooks
from callmask.domain.errors import InvalidParameters
from callmask.domain.numbers import E164, normalise
from callmask.domain.permissions import Permission
from callmask.domain.pool import AccountPressure, PoolNumber
from callmask.service.accounts import Principal, permit
from callmask.service.context import Context, storage_failures
from callmask.storage.base import StorageUnavailable, WriteFailed

# Numbers one console change may add or remove.
_MAX_CHANGE = 1000


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

    async def remove(self, numbers: list[E164], force: bool, account_id: str | None = None) -> int:
        """Take numbers out of the pool (of account_id only, if given); with force their live
        maskings end ("number removed"). Refused (InvalidParameters) with nothing removed while
        live maskings use them without force, or when account_id's pool lacks one of them."""
        now_ms = self._context.now_ms()
        try:
            with storage_failures(StorageUnavailable):
                async with self._context.store.transaction() as tx:
                    removed, ended = await tx.remove_pool_numbers(
                        numbers, now_ms, force, account_id
                    )
                    notices = [
                        webhooks.masking_ended(m, now_ms, "number removed", now_ms) for m in ended
                    ]
                    await self._outbox.write(tx, notices)
        except WriteFailed as error:
            raise InvalidParameters(f"nothing was removed: {error}") from None
        return removed

    async def pressure(self) -> list[AccountPressure]:
        """Per account: pool size, live maskings, and the most live claims one party holds."""
        return await self._store.pressure(self._context.now_ms())

    # -- the console: a client user with MANAGE_POOL changes its own account's pool ---------

    def _parsed(self, values: list[str]) -> list[E164]:
        region = self._context.settings.default_region
        if not values:
            raise InvalidParameters("give at least one number")
        if len(values) > _MAX_CHANGE:
            raise InvalidParameters(f"give at most {_MAX_CHANGE} numbers at a time")
        return [normalise(value, "number", region) for value in values]

    async def add_numbers(self, principal: Principal, values: list[str]) -> int:
        """The CLI's rules: numbers parsed as it does, none of another account's pool."""
        permit(principal, Permission.MANAGE_POOL)
        numbers = self._parsed(values)
        try:
            with storage_failures(StorageUnavailable):
                return await self.add(principal.account_id, numbers)
        except WriteFailed as error:
            raise InvalidParameters(f"nothing was added: {error}") from None

    async def remove_numbers(self, principal: Principal, values: list[str], force: bool) -> int:
        """The CLI's rules: refused while live maskings use them unless force ends those;
        only numbers of the principal's own pool."""
        permit(principal, Permission.MANAGE_POOL)
        return await self.remove(self._parsed(values), force, principal.account_id)
