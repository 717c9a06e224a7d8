"""What a client user may do: a set of named permissions, stored with the user."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from callmask.domain.errors import InvalidParameters


class Permission(StrEnum):
    SET_MASKING = "SET_MASKING"  # Masking/set and Masking/unset
    LIST_MASKING = "LIST_MASKING"  # Masking/get and Masking/list
    LIST_CALL_LOG = "LIST_CALL_LOG"  # callreport/masklist (the vendor's name)
    LIST_WEBHOOK_LOG = "LIST_WEBHOOK_LOG"  # webhooks/deliveries
    # Adding and removing the account's pool numbers in the console (the CLI is the operator's).
    MANAGE_POOL = "MANAGE_POOL"


# A new client may run its maskings and look at them and at its webhook deliveries. The call
# log says who called whom and when, so it is granted on purpose, as DeepCall does.
CLIENT_DEFAULT = frozenset(
    {Permission.SET_MASKING, Permission.LIST_MASKING, Permission.LIST_WEBHOOK_LOG}
)


def parse_permissions(values: Iterable[str]) -> frozenset[Permission]:
    """Names as an operator types them (any case, comma- or space-separated); 1000 if unknown."""
    found = set()
    for value in values:
        for name in value.replace(",", " ").split():
            try:
                found.add(Permission(name.upper()))
            except ValueError:
                known = ", ".join(p.value for p in Permission)
                raise InvalidParameters(f"unknown permission {name!r}; known: {known}") from None
    return frozenset(found)


def stored(permissions: Iterable[Permission]) -> str:
    """The column form: sorted, comma-separated."""
    return ",".join(sorted(p.value for p in permissions))


def loaded(text: str) -> frozenset[Permission]:
    """The column form back; a name this version does not know is ignored, not fatal."""
    return frozenset(Permission(name) for name in text.split(",") if name in Permission.__members__)
