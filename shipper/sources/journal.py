"""Binary journal files (``.journal``, ``.journal~``, and zstd-compressed copies of them).

All files of one group are opened by one ``sd_journal`` reader (systemd-python, imported only
when reading starts), which interleaves them by time.

Every field is read (the document keeps them all, in ``journald.custom``), by `journal_entries`,
with a new reader every `journal_open.REOPEN_ENTRIES` entries (memory: see `journal_open`). A
parallel replay reads the input in segments (`journal_cut`, `journal_segments`). Once it is read,
its read errors are reported (`finish`: `journal_checks`).

Entries of a second another boot of their host took first (a machine without a real-time clock)
are marked as they are read, to have their boot in their id (`shipper.sources.journal_boots`).
"""

from __future__ import annotations

import os
from typing import Any, Iterator

from shipper.errors import InputError

from shipper.event import TAG_READ_ERROR, TAG_UNPARSED
from shipper.sources import journal_open
from shipper.sources.base import Origin, RawChunk
from shipper.sources.export import Fields, Tags
from shipper.sources.journal_boots import BootClaims
from shipper.sources.journal_checks import Counted, counted, finished
from shipper.sources.journal_cut import boundaries
from shipper.sources.journal_entries import CHUNK_ENTRIES, damaged_tags, journal_module, read_entries
from shipper.sources.journal_files import JournalFile, Pinned
from shipper.sources.journal_header import HEADER_BYTES, Header, parse_header, undated_time
from shipper.sources.journal_open import openable, reopen_after, still_open, unopened_message
from shipper.sources.journal_resume import read_on
from shipper.sources.journal_segments import Segment
from shipper.sources.stream import InputStream


class JournalSource:
    """Journal files read together, oldest entry first (as ``journalctl --file``/``-D``)."""

    def __init__(self, source_id: str, files: list[JournalFile]) -> None:
        self.source_id = source_id
        self._files = files
        # ``mtime``: the time of a read error before any entry is read (`undated_time`)
        self.origin = Origin(source_id, "journal", mtime=undated_time([_dated(f) for f in files]))
        self._pinned = Pinned(files)  # open now: the files as listed, whatever happens to their names
        self._reader: Any = None
        self._total: int | None = None
        self._entries = 0
        self._counted: list[Counted] = []  # the files read, with their entries when the reading started
        self.errors: list[str] = []  # read errors met by `segments`

    def total(self) -> int | None:
        """Bytes of the files on disk, like every other source, so one progress bar can add them
        up. Progress is reported in the same unit: entries read scaled by the entry count in the
        files' headers. The reader skips entries stored twice (and a live file may grow), so the
        last chunk's progress is raised to this total and a progress bar ends at 100%."""
        entries = size = 0
        for f in self._files:
            header, bytes_on_disk = _header(f)
            size += bytes_on_disk
            if header is None:
                return None
            entries += header.n_entries
        self._entries, self._total = entries, size
        return size

    def _progress(self, done: int) -> int:
        if not self._entries or self._total is None:
            return done
        return min(self._total, done * self._total // self._entries)

    def chunks(self) -> Iterator[RawChunk]:
        good, errors = self._openable()
        done = 0
        cursor: str | None = None
        held: RawChunk | None = None  # each chunk is held back until the next: the last is adjusted
        boots = BootClaims()
        for items, cursor in self._read(good, errors):
            done += len(items)
            if held is not None:
                yield held
            tags = damaged_tags(items)
            boots.apart(items, tags)
            held = RawChunk(self.origin, "fields", items, tags=tags, checkpoint=cursor, progress=self._progress(done))
        errors = self.finish(errors, done)
        if errors:
            if held is not None:
                yield held
            held = error_chunk(self.origin, errors, checkpoint=cursor, progress=self._progress(done))
        if held is not None:
            held.progress = max(held.progress, self._total or 0)
            yield held

    def _read(self, paths: list[str], errors: list[str]) -> Iterator[tuple[list[Fields], str | None]]:
        """`read_entries` over all files, on past where sd_journal stops before their end
        (`journal_resume`), with a new reader every `REOPEN_ENTRIES` entries (to let the pages the
        old one mapped go: see `journal_open`), over the files sd_journal still opens."""
        if not paths:
            return
        self._reader = journal_module()._Reader(0, None, paths)
        cursor: str | None = None
        while True:
            entries = read_on(paths, self._reader, read_entries, _cursor, errors, cursor)
            since_open = 0
            for items, cursor in entries:
                yield items, cursor
                since_open += len(items)
                if since_open >= journal_open.REOPEN_ENTRIES and len(items) == CHUNK_ENTRIES:
                    break  # (a chunk that is not full is the last, or ends at a damaged file)
            else:
                return
            entries.close()
            self._reader.close()
            self._reader = None
            assert cursor is not None
            try:
                self._reader = reopen_after(paths, cursor)
            except OSError as exc:
                left = still_open(paths, cursor, errors)  # (a file truncated since: left out)
                if not left or left == paths:
                    errors.append(unopened_message(paths, cursor, exc))
                    return
                paths = left
                self._reader = reopen_after(paths, cursor)

    def segments(self, size: int, warm: int) -> Iterator[Segment]:
        """The entries as segments of ``size`` for worker processes (`segment_chunks`), each with
        where the ``warm`` entries before it start; found by sequence number where the files'
        headers allow it, else by stepping over the entries in C (`journal_cut`).
        Files that cannot be read are in `errors` once the first segment is out (the reader of
        the last segment adds what it meets)."""
        good, self.errors = self._openable()
        if good:
            yield from self._segments(tuple(good), size, min(warm, size - 1))
        else:  # nothing to read: one empty segment, after which the errors are reported
            yield Segment((), None, None, 0, self._total or 0)

    def _segments(self, paths: tuple[str, ...], size: int, warm: int) -> Iterator[Segment]:
        warm_from: str | None = None
        after: str | None = None
        done = 0
        for start, end in boundaries(paths, size, warm):
            done += size
            yield Segment(paths, warm_from, after, size, self._progress(done), warm, end)
            warm_from, after = start, end
        yield Segment(paths, warm_from, after, None, self._total or self._progress(done), warm)

    def finish(self, errors: list[str], read: int) -> list[str]:
        """The read errors to report once the input is read (``read`` entries; ``errors`` met
        meanwhile): see `journal_checks.finished`."""
        return finished(errors, self._counted, read)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        self._pinned.close()

    def _openable(self) -> tuple[list[str], list[str]]:
        """The paths of the files sd_journal opens (`Pinned`), and the errors of the others
        (named as the user gave them) and of damaged archives. The entries the files' headers give
        are taken now, for `finish`."""
        paths, errors = self._pinned.paths()
        good, bad = openable(paths)
        self._counted = counted(good, self._pinned.given)
        errors += [f"shipper: cannot open journal file {self._pinned.given(p)}: {why}; it is damaged or not a journal file"
                   for p, why in bad]
        return good, errors


def _header(f: JournalFile) -> tuple[Header | None, int]:
    """The file's header (None: not a journal file's) and its size on disk."""
    stream = InputStream.open_path(f.path) if f.fd is None else InputStream.open_fd(f.path, f.fd, closefd=False)
    try:
        return parse_header(stream.peek(HEADER_BYTES)), stream.size or 0
    finally:
        stream.close()


def _dated(f: JournalFile) -> tuple[Header | None, float | None]:
    """The file's header and mtime, as far as they can be read (for `undated_time`)."""
    try:
        mtime = (os.stat(f.path) if f.fd is None else os.fstat(f.fd)).st_mtime
        return _header(f)[0], mtime
    except (OSError, InputError):
        return None, None


def error_chunk(origin: Origin, errors: list[str], **position: Any) -> RawChunk:
    """The items that report read errors, tagged ``unparsed`` and ``read_error``."""
    items: list[Fields] = [{"MESSAGE": message} for message in errors]
    tags: dict[int, Tags] = dict.fromkeys(range(len(items)), (TAG_UNPARSED, TAG_READ_ERROR))
    return RawChunk(origin, "fields", items, tags=tags, **position)


def _cursor(chunk: tuple[list[Fields], str | None]) -> str | None:
    return chunk[1]
