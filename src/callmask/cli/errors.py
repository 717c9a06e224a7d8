"""How a command fails: one line on stderr and exit status 1."""

from __future__ import annotations


class CliError(Exception):
    """Ends the command with a one-line message and exit status 1."""
