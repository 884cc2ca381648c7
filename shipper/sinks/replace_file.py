"""A file written afresh by a command (``report -o``, ``replay -o``) replaces the old one only when
it is complete: it is written to a hidden temporary file beside the file it replaces (through a
symbolic link: beside the file the link names; the link stays), synced, then renamed over it. A
run that fails or is interrupted deletes the temporary file and leaves the old file as it was.

A FIFO, a terminal, /dev/null or /dev/fd/N (`written_in_place`) is written to as it is.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from pathlib import Path
from typing import IO

from shipper.errors import OutputError
from shipper.state.atomic import fsync_path

_PROC_FD = re.compile(r"/proc/[^/]+/fd/")


def written_in_place(path: Path) -> bool:
    """Whether ``path`` is a stream (anything but a regular file, or a descriptor a shell opened:
    /dev/stdout, /dev/fd/3) rather than a file to replace. OSError when it cannot be looked at."""
    try:
        mode = os.stat(path).st_mode  # through links: what would be written to
    except FileNotFoundError:  # a new file (or a dangling link: its target is created)
        return _fd_path(path)
    return not stat.S_ISREG(mode) or _fd_path(path)


def _fd_path(path: Path) -> bool:
    name = os.path.abspath(path)
    return name in ("/dev/stdout", "/dev/stderr") or name.startswith("/dev/fd/") or _PROC_FD.match(name) is not None


def check_directory(path: Path, what: str) -> None:
    """Refuses a new file in a directory that does not exist: it is not created (a mistyped
    path would otherwise make a tree of directories). ``what`` names the file in the message."""
    directory = Path(os.path.realpath(path)).parent
    if not directory.is_dir():
        raise OutputError(f"cannot write {what}{path}: the directory {directory} does not exist",
                          hint=f"create it first (mkdir -p {directory}), or choose another -o path")


class Replacement:
    """The temporary file that becomes ``path`` on `commit`, or is deleted by `discard`."""

    def __init__(self, path: Path) -> None:
        self.path = Path(os.path.realpath(path))
        fd, self._tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            _take_mode(fd, self.path)
            self.file: IO[bytes] = os.fdopen(fd, "wb")
        except BaseException:
            os.close(fd)
            os.unlink(self._tmp)
            raise

    def commit(self) -> None:
        """Synced, closed and renamed over the file it replaces; on failure, discarded."""
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            os.replace(self._tmp, self.path)
        except BaseException:
            self.discard()
            raise
        _sync_directory(self.path.parent)

    def discard(self) -> None:
        """Closed and deleted (the old file stays as it was)."""
        try:
            self.file.close()
        finally:
            Path(self._tmp).unlink(missing_ok=True)


def _sync_directory(directory: Path) -> None:
    """The rename survives a power cut (a directory that cannot be synced is left as it is)."""
    try:
        fsync_path(directory, directory=True)
    except OSError:
        pass


def _take_mode(fd: int, path: Path) -> None:
    """The new file's mode: the one of the file it replaces, with its owner and group (a 0600
    file stays 0600), never wider; for a new file, 0644 less the umask."""
    try:
        old = os.stat(path)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o644 & ~umask)
        return
    mode = stat.S_IMODE(old.st_mode) & 0o777
    try:
        os.fchown(fd, old.st_uid, old.st_gid)
    except PermissionError:  # not root, and the file or its group is not this user's
        if os.fstat(fd).st_gid != old.st_gid:
            mode &= ~0o070  # the old group's access would go to another group
    os.fchmod(fd, mode)
