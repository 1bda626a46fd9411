"""Exit codes and the exceptions the command line turns into them."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """The process exit codes of every command (README, "Exit codes"; docs/architecture.md)."""

    OK = 0  # done, nothing to flag
    PROBLEMS = 1  # done, problems found (policy set by --fail-on)
    USAGE = 2  # bad usage or unreadable input
    CANNOT_RUN = 3  # lock held, offline, database error


class CitewatchError(Exception):
    """Base of every error the CLI reports as one line and an exit code."""

    exit_code: ExitCode = ExitCode.CANNOT_RUN


class UsageError(CitewatchError):
    """Bad arguments, settings or input: the user can fix it."""

    exit_code = ExitCode.USAGE


class ConfigError(UsageError):
    """A setting that cannot be read: names the file (and line) or the variable."""


class InputError(UsageError):
    """A document that cannot be read: missing, a directory, binary."""


class CannotRunError(CitewatchError):
    """The environment stops the job: offline, lock held, database trouble."""

    exit_code = ExitCode.CANNOT_RUN
