"""The journal files a journal input follows, as they are now, and holding them open.

A directory input (``path:``) is read as ``sd_journal_open_directory`` reads it: its journal files
(``*.journal``, and ``*.journal~``, the files journald put aside) and those of its machine-id
subdirectories (``/var/log/journal`` holds ``<machine-id>/``). The local journal is what
``sd_journal_open`` with ``SD_JOURNAL_LOCAL_ONLY`` reads: ``/run/log/journal`` and
``/var/log/journal``, and their subdirectory of this machine's id.

Each file is listed with its header (`shipper.sources.journal_header`): the writer that numbered
its entries (``seqnum_id``) and whether it is archived. A file a follower still has to read is
held open (`Pins`) and given to sd_journal through a link to that descriptor (as a replay does,
`shipper.sources.journal_files`): journald vacuuming it, or the whole directory being removed,
then changes nothing for the reader, which reads it to its end.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from shipper.sources.journal_files import fd_link
from shipper.sources.journal_header import Header, read_header

JOURNAL_SUFFIXES = (".journal", ".journal~")
LOCAL_ROOTS = ("/run/log/journal", "/var/log/journal")
_MACHINE_ID = re.compile(r"[0-9a-f]{32}")
Ident = tuple[int, int]  # (st_dev, st_ino): a file whatever its name


@dataclass(frozen=True, slots=True)
class Listed:
    ident: Ident
    path: str
    header: Header

    @property
    def finished(self) -> bool:
        """It will not grow: archived, or put aside by journald (``.journal~``)."""
        return self.header.archived or self.path.endswith("~")


class JournalFiles:
    """The journal files of a directory input (``path``), or of the local journal (None)."""

    def __init__(self, path: Path | None, *, roots: tuple[str, ...] = LOCAL_ROOTS,
                 machine_id: str | None = None) -> None:
        """``roots`` and ``machine_id`` (read from /etc/machine-id when not given) locate the local journal."""
        self.path = path
        self._roots = [str(path)] if path is not None else list(roots)
        # The subdirectory read: any machine's in a directory input, this machine's in the local journal
        self._machine = None if path is not None else (machine_id or _machine_id())
        self._finished: dict[Ident, Listed] = {}  # headers that no longer change

    def describe(self) -> str:
        """What the operator calls these files: "the journal directory /srv/remote"."""
        if self.path is not None:
            return f"the journal directory {self.path}"
        dirs = ", ".join(os.path.join(root, self._machine or "<machine-id>") for root in self._roots)
        return f"the local journal ({dirs})"

    def listing(self) -> tuple[list[Listed] | None, list[str]]:
        """The journal files now (None when no directory to list is there, or it cannot be read),
        and what was wrong: directories or files that cannot be read."""
        found: list[Listed] = []
        problems: list[str] = []
        listed_any = False
        for root in self._roots:
            try:
                self._list_dir(root, True, found, problems)
                listed_any = True
            except FileNotFoundError:
                continue
            except OSError as exc:
                problems.append(f"cannot read {root}: {exc.strerror or exc}")
        finished = {f.ident for f in found if f.finished}
        self._finished = {i: f for i, f in self._finished.items() if i in finished}
        return (found if listed_any else None), problems

    def _list_dir(self, directory: str, top: bool, found: list[Listed], problems: list[str]) -> None:
        device = os.stat(directory).st_dev  # (a file's inode is listed with its name: no stat for each)
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.name.endswith(JOURNAL_SUFFIXES):
                    self._add(entry, device, found, problems)
                elif top and self._wanted_subdir(entry.name) and entry.is_dir():
                    try:
                        self._list_dir(entry.path, False, found, problems)
                    except FileNotFoundError:
                        continue
                    except OSError as exc:
                        problems.append(f"cannot read {entry.path}: {exc.strerror or exc}")

    def _wanted_subdir(self, name: str) -> bool:
        return name == self._machine if self._machine else _MACHINE_ID.fullmatch(name) is not None

    def _add(self, entry: os.DirEntry[str], device: int, found: list[Listed], problems: list[str]) -> None:
        try:
            ident = (device, entry.inode()) if not entry.is_symlink() else _ident(os.stat(entry.path))
        except OSError:
            return  # a link to nothing
        known = self._finished.get(ident)
        if known is not None:
            found.append(Listed(ident, entry.path, known.header))
            return
        if not os.access(entry.path, os.R_OK):
            problems.append(f"cannot read {entry.path}: permission denied")
            return
        header = read_header(entry.path)
        if header is None:
            return  # gone meanwhile, being created (no header yet), or not a journal file: looked at next time
        listed = Listed(ident, entry.path, header)
        if listed.finished:
            self._finished[ident] = listed
        found.append(listed)


class Pins:
    """Journal files held open, each with a path sd_journal can open it by (a link to the
    descriptor in a private directory, or its own path where there is no /proc)."""

    def __init__(self) -> None:
        self._held: dict[Ident, tuple[int, str]] = {}
        self._dir: str | None = None

    def path(self, f: Listed) -> str | None:
        """The path to give sd_journal for ``f``, held open from now on; None if it was deleted
        while held (sd_journal opens no deleted file; one it has open, it reads on). OSError when
        it cannot be opened now: FileNotFoundError when its name is gone or holds another file (a
        rotation renamed it since it was listed), others when too many files are open (the daemon
        does not raise its limit: the unit sets it, LimitNOFILE=)."""
        held = self._held.get(f.ident)
        if held is not None:
            return None if self.deleted(f.ident) else held[1]
        fd = os.open(f.path, os.O_RDONLY | os.O_CLOEXEC)
        if _ident(os.fstat(fd)) != f.ident:
            os.close(fd)
            raise FileNotFoundError(f"{f.path} is another file now")
        self._held[f.ident] = (fd, self._link(fd, f))
        return self._held[f.ident][1]

    def _link(self, fd: int, f: Listed) -> str:
        """A path to the file open as ``fd``; its own path where no link can be made."""
        try:
            if self._dir is None:
                self._dir = tempfile.mkdtemp(prefix="shipper-follow-")
            link = os.path.join(self._dir, f"{f.ident[0]}-{f.ident[1]}.journal")
            return link if fd_link(fd, link) else f.path
        except OSError:  # no private directory (no writable temporary directory)
            return f.path

    def deleted(self, ident: Ident) -> bool:
        """The file held as ``ident`` has been deleted (it has no name left)."""
        held = self._held.get(ident)
        return held is not None and os.fstat(held[0]).st_nlink == 0

    def release(self, ident: Ident) -> None:
        held = self._held.pop(ident, None)
        if held is not None:
            os.close(held[0])
            if self._dir is not None and held[1].startswith(self._dir):
                with contextlib.suppress(FileNotFoundError):  # (a cleaner of temporary files was there first)
                    os.unlink(held[1])

    def close(self) -> None:
        for ident in list(self._held):
            self.release(ident)
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


def _ident(st: os.stat_result) -> Ident:
    return st.st_dev, st.st_ino


def _machine_id() -> str | None:
    try:
        text = Path("/etc/machine-id").read_text().strip()
    except OSError:
        return None
    return text if _MACHINE_ID.fullmatch(text) else None
