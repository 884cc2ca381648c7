"""Errors a user reads, and the exit codes they map to.

Every failure that reaches the command line is a `ShipperError` (or is turned into one by the
error boundary in `cli.py`). Its message is written for the operator: what went wrong, where, and
what to do. Exit codes are part of the interface and documented in the README.
"""

from __future__ import annotations

import enum
from typing import Any


class ExitCode(enum.IntEnum):
    OK = 0
    ERROR = 1  # an unexpected failure (a bug): rerun with --debug and report it
    USAGE = 2  # wrong command-line arguments
    CONFIG = 3  # the configuration file or a signature file is invalid
    INPUT = 4  # an input cannot be read (missing file, permission, unknown format)
    OUTPUT = 5  # an output cannot be written (store, file, Elasticsearch refused)
    UNAVAILABLE = 6  # a server (Elasticsearch, Kibana) cannot be reached or rejected credentials
    INTERRUPTED = 130  # stopped by SIGINT before finishing


class ShipperError(Exception):
    """An error with a message meant for the operator and an exit code."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled with its hint (a replay's worker process sends its error to the main process)."""
        return (_rebuild, (type(self), self.message, self.hint))


def _rebuild(cls: type[ShipperError], message: str, hint: str | None) -> ShipperError:
    return cls(message, hint=hint)


class UsageError(ShipperError):
    exit_code = ExitCode.USAGE


class ConfigError(ShipperError):
    exit_code = ExitCode.CONFIG


class InputError(ShipperError):
    exit_code = ExitCode.INPUT


class OutputError(ShipperError):
    exit_code = ExitCode.OUTPUT


class UnavailableError(ShipperError):
    exit_code = ExitCode.UNAVAILABLE
