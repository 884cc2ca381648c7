"""The process environment as one injectable object (streams, variables, clock, directories).

Commands never touch `sys.stdout`, `os.environ` or the clock directly: tests build an `Env` with
in-memory streams and a fixed clock, as httpie does.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable, Mapping


def _default_data_dir(environ: Mapping[str, str]) -> Path:
    base = environ.get("XDG_DATA_HOME") or str(Path(environ.get("HOME", "~")).expanduser() / ".local" / "share")
    return Path(base) / "shipper"


@dataclass
class Env:
    stdin: IO[bytes] = field(default_factory=lambda: sys.stdin.buffer)
    stdout: IO[str] = field(default_factory=lambda: sys.stdout)
    stderr: IO[str] = field(default_factory=lambda: sys.stderr)
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    clock: Callable[[], float] = time.time
    cpu_count: int = field(default_factory=lambda: len(os.sched_getaffinity(0)))  # CPUs this process may use

    @property
    def stdout_isatty(self) -> bool:
        return _isatty(self.stdout)

    @property
    def stderr_isatty(self) -> bool:
        return _isatty(self.stderr)

    @property
    def stdout_bytes(self) -> IO[bytes]:
        """The binary stream under stdout (NDJSON is written as bytes)."""
        buf = getattr(self.stdout, "buffer", None)
        if buf is None:
            raise TypeError("this Env's stdout has no binary buffer")
        return buf

    @property
    def data_dir(self) -> Path:
        return _default_data_dir(self.environ)

    @property
    def default_store(self) -> Path:
        return self.data_dir / "events.db"


def _isatty(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # closed stream
        return False
