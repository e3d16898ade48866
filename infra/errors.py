"""The one domain error type of slotstack; the `slotstack` command maps it to an exit code at the top."""

from __future__ import annotations


class SlotstackError(Exception):
    """Something the user can fix; the message says what and how. Exit code 1."""

    exit_code = 1


class UsageError(SlotstackError):
    """A command asked for something that does not exist (a cell, an environment). Exit code 2."""

    exit_code = 2
