"""One daemon per state directory: an exclusive ``flock`` on ``<state_dir>/lock``, held for the
process's life (the kernel releases it when the process dies, even by ``kill -9``).

The lock holds only while ``<state_dir>/lock`` is the file that was locked: deleting the directory
(or the lock file) while the daemon runs unlinks it, and another shipper could then lock a new one
there. `StateLock.lost` tells, so that the daemon stops rather than write on into a directory that
is gone (or make it again, beside another shipper).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from shipper.errors import OutputError

FILENAME = "lock"


class StateLock:
    """The lock this process holds on a state directory (`lock_state_dir`)."""

    def __init__(self, state_dir: Path, fd: int) -> None:
        self.state_dir = state_dir
        self._fd = fd
        st = os.fstat(fd)
        self._file = (st.st_dev, st.st_ino)

    def lost(self) -> str | None:
        """None while ``<state_dir>/lock`` is the file this process locked; else what became of
        the directory (to follow its name in a message)."""
        try:
            st = os.stat(self.state_dir / FILENAME)
        except OSError:
            return "was deleted" if not os.path.isdir(self.state_dir) else f"lost its {FILENAME} file (deleted)"
        if (st.st_dev, st.st_ino) != self._file:
            return f"has another {FILENAME} file (deleted and made again, maybe by another shipper)"
        return None

    def close(self) -> None:
        os.close(self._fd)


def lock_state_dir(state_dir: Path) -> StateLock:
    """The lock (keep it until the end); `OutputError` when another shipper holds it."""
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
    return StateLock(state_dir, fd)
