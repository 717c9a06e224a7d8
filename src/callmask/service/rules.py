"""Use cases of an account's call rules: what `callmask account set` changes and `show` shows."""

from __future__ import annotations

import dataclasses

from callmask.domain import rules
from callmask.domain.rules import AccountRules
from callmask.service.context import Context


class Rules:
    def __init__(self, context: Context) -> None:
        self._context = context
        self._store = context.store

    @property
    def default_call_time_limit(self) -> int:
        """CALLMASK_CALL_TIME_LIMIT: what an account that set no limit gets."""
        return self._context.settings.call_time_limit

    async def rules(self, account_id: str) -> AccountRules | None:
        """The account's rules (the defaults if it set none); None if there is no such account."""
        found = await self._store.account_rules(account_id)
        if found is not None:
            return found
        return AccountRules(account_id) if await self._store.account_known(account_id) else None

    async def change_rules(
        self, account_id: str, *, call_time_limit: str | None = None
    ) -> AccountRules | None:
        """Change what is given (None: keep it); None if there is no such account.

        Every value is checked before anything is written, so a bad one (InvalidParameters)
        changes nothing. call_time_limit "default" goes back to the global default.
        """
        limit = None if call_time_limit is None else rules.account_call_time_limit(call_time_limit)
        changed = await self.rules(account_id)
        if changed is None:
            return None
        if call_time_limit is not None:
            changed = dataclasses.replace(changed, call_time_limit=limit)
        await self._store.set_account_rules(changed, self._context.now_ms())
        return changed
