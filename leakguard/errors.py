"""Domain errors and the exit-code contract.

Nothing here imports click: the CLI boundary translates these into messages and
exit codes, library code only raises them.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """The process exit codes; documented in the README's table. Never renumber."""

    CLEAN = 0
    FINDINGS = 1
    USAGE = 2
    UNREADABLE = 3
    REFUSED = 4
    INTERNAL = 70


class LeakguardError(Exception):
    """An error a user can act on: a one-line message and a hint."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str, hint: str | None = None, exit_code: ExitCode | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(LeakguardError):
    """The user asked for something that cannot be done as asked."""

    exit_code = ExitCode.USAGE


class ConfigError(UsageError):
    """The configuration file (or a rule in it) is invalid."""


class BaselineError(UsageError):
    """A baseline file is missing, unreadable or not a baseline."""


class TargetUnreadable(LeakguardError):
    """A scan target could not be read or reached."""

    exit_code = ExitCode.UNREADABLE


class ChangeRefused(LeakguardError):
    """A change was refused or rolled back; user files are as they were."""

    exit_code = ExitCode.REFUSED
