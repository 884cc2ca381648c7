"""Errors a user reads, and the exit codes they map to.

Every failure that reaches the command line is a `ShipperError` (or is turned into one by the
error boundary in `cli.py`). Its message is written for the operator: what went wrong, where, and
what to do. Exit codes are part of the interface and documented in the README.
"""

from __future__ import annotations

import enum


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
