"""Use cases of an account's call rules: what `callmask account set` changes and `show` shows."""

from __future__ import annotations

import dataclasses

from callmask.domain import rules
from callmask.domain.errors import InvalidParameters
from callmask.domain.rules import DEFAULT_REJECT_CODE, AccountRules
from callmask.service.context import Context


class Rules:
    def __init__(self, context: Context) -> None:
        self._context = context
        self._store = context.store
        self._region = context.settings.default_region

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
        self,
        account_id: str,
        *,
        call_time_limit: str | None = None,
        out_of_session: str | None = None,
        reject_code: str | None = None,
        record: str | None = None,
    ) -> AccountRules | None:
        """Change what is given (None: keep it); None if there is no such account.

        Every value is checked before anything is written, so a bad one (InvalidParameters)
        changes nothing. call_time_limit "default" goes back to the global default; the
        out-of-session rule is given whole, so reject_code goes with out_of_session "reject"
        (403 when not given).
        """
        limit = None if call_time_limit is None else rules.account_call_time_limit(call_time_limit)
        rule = (
            None if out_of_session is None else rules.out_of_session(out_of_session, self._region)
        )
        code = None if reject_code is None else rules.reject_code(reject_code)
        recorded = None if record is None else rules.record(record, "--record")
        if code is not None and (rule is None or rule[0] != "reject"):
            raise InvalidParameters("--reject-code goes with --out-of-session reject")
        if rule is not None and rule[1] is not None and await self._store.pool_owner(rule[1]):
            # A call forwarded to a pool number would come back through the proxy as a call
            # to that number, from the number it was forwarded from: out of session again.
            raise InvalidParameters(
                "the --out-of-session forward number is a pool number: forwarded calls would"
                " come back through the proxy"
            )
        changed = await self.rules(account_id)
        if changed is None:
            return None
        if call_time_limit is not None:
            changed = dataclasses.replace(changed, call_time_limit=limit)
        if recorded is not None:
            changed = dataclasses.replace(changed, record=recorded)
        if rule is not None:
            changed = dataclasses.replace(
                changed,
                out_of_session=rule[0],
                forward_to=rule[1],
                reject_code=code or DEFAULT_REJECT_CODE,
            )
        await self._store.set_account_rules(changed, self._context.now_ms())
        return changed
