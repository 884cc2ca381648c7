"""The paths a journal replay opens: its files as they were when the replay started.

sd_journal opens files by path, and a replay opens them many times: the main process to cut
segments, each worker, and a new reader every ``REOPEN_ENTRIES`` entries. On a live machine the
active file is rotated while it is read: journald (or systemd-journal-remote) renames
``system.journal`` to ``system@….journal`` and a new, nearly empty ``system.journal`` takes its
name; vacuuming deletes old files. Opened by its name again, the active file would be the new one:
its cursors are not found there, and the renamed file's entries would be missing from the replay
(seen with systemd-journal-remote rotating during a replay: no documents at all, or "No such file
or directory").

So `Pinned` keeps each file open from the moment the input is listed (`shipper.sources.pins`),
and gives the readers a path through that descriptor: a link in a private directory (named
``….journal``, as sd_journal wants) to ``/proc/<pid>/fd/<n>``, which is that same file whatever
happens to its name, also for worker processes. Compressed files are decompressed into the same
directory when reading starts. Entries appended to a file after the start are read; files created
after it (the rotation's new file) are not. (A rotation between listing a directory and opening
its files, a few milliseconds, is not caught.)
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass

from shipper.sources.pins import open_pinned, room_for
from shipper.sources.stream import InputStream

COPY_BLOCK = 1 << 20


@dataclass(frozen=True, slots=True)
class JournalFile:
    path: str
    compressed: bool  # the file on disk is an archive of the journal file (e.g. .journal.zst)
    fd: int | None = None  # the descriptor it was listed with (`shipper.sources.pins`), taken over


class Pinned:
    """The files of one journal source, pinned (see the module doc) until `close`."""

    def __init__(self, files: list[JournalFile]) -> None:
        room_for(4 * len(files))  # pinned, and each of the few readers at a time opens every file
        self._files = files
        self._fds: list[int | None] = [f.fd if f.fd is not None else _open(f.path) for f in files]
        self._dir: str | None = None
        self._given: dict[str, str] = {}  # path opened -> the path the user gave
        self._made: tuple[list[str], list[str]] | None = None

    def paths(self) -> tuple[list[str], list[str]]:
        """Paths sd_journal can open, one per file, and the read errors of damaged archives
        (made once; after `close`, the files' own paths)."""
        if self._made is None:
            self._made = self._make()
        return list(self._made[0]), list(self._made[1])

    def _make(self) -> tuple[list[str], list[str]]:
        paths: list[str] = []
        errors: list[str] = []
        for index, (f, fd) in enumerate(zip(self._files, self._fds)):
            target = f.path  # if it is not open: sd_journal says why, under the name given
            if f.compressed:
                target = self._local(f.path, index)
                failure = _decompress(f.path, fd, target)
                if failure:
                    errors.append(failure)
            elif fd is not None and fd_link(fd, link := self._local(f.path, index)):
                target = link
            paths.append(target)
            self._given[target] = f.path
        return paths, errors

    def given(self, path: str) -> str:
        """The path the user gave for an opened path (for messages)."""
        return self._given.get(path, path)

    def close(self) -> None:
        for fd in self._fds:
            if fd is not None:
                os.close(fd)
        self._fds = [None] * len(self._files)
        self._made = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def _local(self, path: str, index: int) -> str:
        if self._dir is None:
            self._dir = tempfile.mkdtemp(prefix="shipper-journal-")
        return os.path.join(self._dir, _plain_name(path, index))


def _open(path: str) -> int | None:
    try:
        return open_pinned(path)
    except OSError:
        return None


def fd_link(fd: int, link: str) -> bool:
    """Make ``link`` a path to the file open as ``fd`` (whatever becomes of its name); False where
    there is no /proc to reach it through."""
    os.symlink(f"/proc/{os.getpid()}/fd/{fd}", link)
    if os.path.exists(link):
        return True
    os.unlink(link)
    return False


def _plain_name(path: str, index: int) -> str:
    """The name in the private directory: sd_journal opens only names ending in .journal or .journal~."""
    name = os.path.basename(path)
    for suffix in (".zst", ".zstd", ".gz", ".xz", ".bz2"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    if not name.endswith((".journal", ".journal~")):
        name += ".journal"
    return f"{index:04d}-{name}"


def _decompress(src: str, fd: int | None, target: str) -> str | None:
    """Decompress ``src`` (open as ``fd``, if it is) to ``target``; the read-error message when
    the archive is damaged."""
    stream = InputStream.open_path(src) if fd is None else InputStream.open_fd(src, fd, closefd=False)
    try:
        with open(target, "wb") as out:
            while block := stream.read(COPY_BLOCK):
                out.write(block)
        return stream.failure.message() if stream.failure else None
    finally:
        stream.close()
