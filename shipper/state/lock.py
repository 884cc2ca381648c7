"""One daemon per state directory: an exclusive ``flock`` on ``<state_dir>/lock``, held for the
process's life (the kernel releases it when the process dies, even by ``kill -9``)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from shipper.errors import OutputError

FILENAME = "lock"


def lock_state_dir(state_dir: Path) -> int:
    """The locked descriptor (keep it open); `OutputError` when another shipper holds it."""
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(state_dir / FILENAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise OutputError(f"cannot use the state directory {state_dir}: {exc.strerror}",
                          hint="set state_dir in the config to a directory shipper may write") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise OutputError(f"another shipper is already running with the state directory {state_dir}",
                          hint="stop it first (systemctl stop shipper), or give this one another state_dir") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd
