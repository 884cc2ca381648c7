"""Atomic state files: a reader sees the old content or the new, never a torn write.

Write to a temporary file in the same directory, fsync it, rename it over the target, then
fsync the directory so the rename itself survives a power cut.

The directory is not made here: the state directory is made once, when shipper starts (the
daemon's lock, `shipper.state.lock`), and one deleted while shipper runs is an error to report,
not a directory to make again (another shipper may have started on it meanwhile).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from shipper.errors import OutputError


def fsync_path(path: Path, *, directory: bool = False) -> None:
    """fsync a file, or a directory (its entries: a rename or a new file in it), by name."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    tmp = ""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
        fsync_path(path.parent, directory=True)
    except OSError as exc:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"cannot write state file {path}: {exc.strerror}", hint=_hint(path)) from None


def _hint(path: Path) -> str:
    if not path.parent.exists():
        return f"{path.parent} is gone: was it deleted while shipper was running? start shipper again: it makes it"
    return "check free space and permissions"
