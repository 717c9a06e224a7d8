"""How a command fails: one line on stderr and an exit status its class carries."""

from __future__ import annotations

from typing import ClassVar


class CliError(Exception):
    """Ends the command with a one-line message and exit status 1 (a state: no such user)."""

    status: ClassVar[int] = 1


class BadValue(CliError):
    """A value the command cannot take: exit status 2, as argparse's own usage errors."""

    status = 2
