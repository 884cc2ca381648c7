"""A journal file that changes under a reader: truncated, or on a disk that fails, while it is read.

sd_journal maps the files it reads; reading a mapped page past a file's new end (or one the disk
cannot give) raises SIGBUS, which ends the process. The C reader (``_journalread.c``) installs a
handler for it, as journalctl does systemd's: the page becomes a page of zeros, the fault is
counted, and the reading goes on; its C calls stop at the fault (``pack`` leaves out the entry
being read). Here, the Python side: `install` (when journal reading starts), `count` (compared
before and after a reader's calls), and `changed_message`, the read error that names the file.

A reader that met a fault must read no more: its zero pages would read again without a fault.
Without the C reader (not built), there is no handler, and such a fault still ends the process.
"""

from __future__ import annotations

import functools
import os
import struct

try:
    from shipper.sources import _journalread as _native
except ImportError:  # not built: no handler
    _native = None  # type: ignore[assignment]

_PAGE = os.sysconf("SC_PAGE_SIZE")
JOURNAL_SUFFIXES = (".journal", ".journal~")
_SIGNATURE = b"LPKSHHRH"
_SIZES_AT = 88  # header_size, then arena_size (systemd's journal-def.h)
CHANGED = "changed under shipper"  # (in the read errors of `changed`)


@functools.cache
def install() -> None:
    """Install the SIGBUS handler (once; a no-op without the C reader)."""
    if _native is not None:
        _native.install_sigbus()


def count() -> int:
    """How many faults in mapped files the handler mended so far in this process."""
    return 0 if _native is None else _native.sigbus_count()


def changed_message(since: int, last: str | None) -> str:
    """The read error of a reading stopped by the faults after the first ``since`` (`count` then),
    after the entry ``last`` (None: before the first)."""
    return changed(last, changed_files([] if _native is None else _native.sigbus_pages(since)))


def changed(last: str | None, files: list[str]) -> str:
    """The read error of a reading stopped after the entry ``last`` because ``files`` (none: not
    known which) changed under it."""
    which = f"the journal file {', '.join(files)}" if files else "a journal file"
    return (f"shipper: reading the journal stopped after cursor {last}: {which} {CHANGED} while it was read "
            "(truncated, or an I/O error): entries after this point in it were not read; check the disk "
            "(dmesg) and journalctl --verify --file FILE")


def is_changed(message: str) -> bool:
    """Whether a read error is one of `changed`."""
    return CHANGED in message and message.startswith("shipper: reading the journal stopped after cursor ")


def changed_files(pages: list[int]) -> list[str]:
    """The files that the faults at ``pages`` were in, as far as can be told: the journal files open
    in this process that are shorter than their header says (truncated), and the files mapped next
    to the zero pages (where sd_journal still maps them: the handler split each mapping there)."""
    found = truncated_journals()
    return found + [path for path in files_at(pages) if path not in found]


def truncated_journals() -> list[str]:
    """The journal files open in this process (/proc/self/fd) that are `truncated`."""
    found: list[str] = []
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return found
    for fd in fds:
        try:
            path = os.readlink(f"/proc/self/fd/{fd}").removesuffix(" (deleted)")
            if path.endswith(JOURNAL_SUFFIXES) and path not in found and truncated(int(fd)):
                found.append(path)
        except (OSError, ValueError):
            continue  # (closed meanwhile)
    return found


def truncated(file: int | str) -> bool:
    """Whether the journal file (a descriptor, or a path) is shorter than the size its header
    gives (``header_size + arena_size``: a journal file is never shorter)."""
    fd = file if isinstance(file, int) else os.open(file, os.O_RDONLY | os.O_CLOEXEC)
    try:
        head = os.pread(fd, _SIZES_AT + 16, 0)
        if len(head) < _SIZES_AT + 16 or not head.startswith(_SIGNATURE):
            return False
        header_size, arena_size = struct.unpack_from("<QQ", head, _SIZES_AT)
        return os.fstat(fd).st_size < header_size + arena_size
    finally:
        if fd is not file:
            os.close(fd)


def cut(path: str) -> bool:
    """Whether the journal file at ``path`` is `truncated` (False if it cannot be read)."""
    try:
        return truncated(path)
    except OSError:
        return False


def files_at(pages: list[int]) -> list[str]:
    """The files mapped next to the zero pages mapped over ``pages``, as /proc/self/maps names them."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="surrogateescape") as maps:
            regions = [_region(line) for line in maps]
    except OSError:
        return []
    found: list[str] = []
    for page in pages:
        for start, end, path in filter(None, regions):
            if start <= page + _PAGE and end >= page and path not in found:
                found.append(path)
                break
    return found


def _region(line: str) -> tuple[int, int, str] | None:
    """A line of /proc/self/maps as (start, end, path) when it maps a file."""
    fields = line.rstrip("\n").split(maxsplit=5)
    if len(fields) < 6 or not fields[5].startswith("/"):
        return None
    start, _, end = fields[0].partition("-")
    return int(start, 16), int(end, 16), fields[5].removesuffix(" (deleted)")
