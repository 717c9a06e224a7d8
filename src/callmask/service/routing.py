"""Use cases of calls: where a call to a pool number goes (the hot path of every call), and
recording what the SIP proxy reports of each call, through its queue or posted directly."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from callmask.domain import webhooks
from callmask.domain.calls import CallEvent, parse_call_event
from callmask.domain.errors import InvalidParameters, PermissionDenied
from callmask.domain.masking import Masking
from callmask.domain.numbers import E164, normalise, redact
from callmask.domain.recordings import Status, new_recording_id
from callmask.domain.rules import AccountRules, effective_call_time_limit, effective_record
from callmask.service.accounts import Principal
from callmask.service.context import Context, storage_failures
from callmask.storage.base import StorageUnavailable

log = logging.getLogger("callmask.service")


@dataclass(frozen=True, slots=True)
class Route:
    """connect (to the masking's other party), forward (an out-of-session call, to the account's
    fallback number, showing caller_id) or reject (with sip_code)."""

    action: Literal["connect", "forward", "reject"]
    masking: Masking | None = None
    caller: E164 | None = None
    to: E164 | None = None
    sip_code: int = 200
    reason: str = ""
    call_time_limit: int = 0
    caller_id: E164 | None = None
    record: bool = False


class Routing:
    def __init__(self, context: Context) -> None:
        self._context = context
        self._store = context.store
        self._outbox = context.outbox
        self._region = context.settings.default_region
        self._call_time_limit = context.settings.call_time_limit

    async def route_call(self, principal: Principal, caller: object, mask: object) -> Route:
        """Where a call from caller to the pool number mask must go."""
        if principal.role != "router":
            raise PermissionDenied("this endpoint needs the router role")
        did = normalise(mask, "mask", self._region)
        who: E164 | None
        try:
            who = normalise(caller, "caller", self._region)
        except InvalidParameters:
            # Withheld or malformed caller ID on a live trunk: nobody to connect it to, so out
            # of session whatever the number.
            who = None
        now_ms = self._context.now_ms()
        with storage_failures(StorageUnavailable):
            if who is not None:
                found = await self._store.route(did, who, now_ms)
                if found is not None:
                    masking, account_limit, account_record = found
                    limit = effective_call_time_limit(
                        masking.call_time_limit, account_limit, self._call_time_limit
                    )
                    other = masking.other_party(who)
                    return Route(
                        "connect",
                        masking=masking,
                        caller=who,
                        to=other,
                        call_time_limit=limit,
                        record=effective_record(masking.record, account_record),
                    )
            # Out of session: the account's rule decides, read only now, off the connect path.
            rules = await self._store.owner_rules(did)
            if rules is None:
                return Route("reject", sip_code=404, reason="unknown number")
            if rules.forward_to is not None and rules.out_of_session == "forward":
                forwarded = await self._forward(rules, rules.forward_to, who, did)
                if forwarded is not None:
                    return forwarded
            last = None if who is None else await self._store.last_masking(did, who)
        if last is not None:
            return Route(
                "reject", masking=last, sip_code=rules.reject_code, reason="masking expired"
            )
        return Route(
            "reject", sip_code=rules.reject_code, reason="caller has no masking on this number"
        )

    async def _forward(
        self, rules: AccountRules, to: E164, who: E164 | None, did: E164
    ) -> Route | None:
        """The call sent to the account's fallback number, showing the DID called; None if
        the fallback has since become a pool number (the call would loop through the proxy)."""
        if await self._store.pool_owner(to) is not None:
            log.warning(
                "account %s forwards to pool number %s: rejecting instead",
                rules.account_id,
                redact(to),
            )
            return None
        limit = effective_call_time_limit(None, rules.call_time_limit, self._call_time_limit)
        return Route(
            "forward",
            caller=who,
            to=to,
            call_time_limit=limit,
            caller_id=did,
            record=effective_record(None, rules.record),
        )

    async def report_call_event(self, principal: Principal, raw: bytes) -> CallEvent:
        """An event the SIP proxy sent itself (its queue was unreachable), stored at once as
        record_call_event stores a queued one; InvalidRequestData or InvalidParameters if it is
        malformed (nothing stored), DatabaseUnavailable if it could not be stored."""
        if principal.role != "router":
            raise PermissionDenied("this endpoint needs the router role")
        event = parse_call_event(raw)
        await self.record_call_event(event)
        return event

    async def _note_recording(self, event: CallEvent, now_ms: int) -> None:
        """The proxy started recording the call at answer, or skipped it (reason says why)."""
        status: Status = "recording" if event.recording == "started" else "skipped"
        with storage_failures():
            async with self._store.transaction() as tx:
                await tx.note_recording(
                    event.call_id, new_recording_id(), status, event.reason, now_ms
                )

    async def record_call_event(self, event: CallEvent) -> None:
        """Store one event the SIP proxy reported; storing it again changes nothing.

        The event is well-formed, so a refusal is the database's state, not the event's: it
        answers 1010 and the caller keeps the event and tries again rather than dropping it.
        """
        now_ms = self._context.now_ms()
        if event.kind == "recording":
            await self._note_recording(event, now_ms)
            return
        with storage_failures():
            async with self._store.transaction() as tx:
                change = await tx.record_call_event(event, now_ms)
                announced = change is not None and (
                    change.announced
                    and await self._outbox.write(tx, webhooks.call_notices(change.record, now_ms))
                )
        if announced:
            self._outbox.on_notice()
