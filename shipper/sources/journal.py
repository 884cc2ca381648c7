"""Binary journal files (``.journal``, ``.journal~``, and zstd-compressed copies of them).

All files of one group are opened by one ``sd_journal`` reader (systemd-python, imported only
when reading starts), which interleaves them by time.

Every field is read (the document keeps them all, in ``journald.custom``), by `journal_entries`.

Memory: sd_journal maps the files and keeps what it has read mapped, so resident memory grows
with the part of the files read (clean page-cache pages, but they count in RSS: 60 MB for 100k
entries). A new reader every `REOPEN_ENTRIES` entries (read, stepped over, or passed by the
searches that cut a parallel replay's segments) starts small again; it maps anew only the older
pages that the next entries refer to (values stored once per file, such as a host name).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Generic, Iterator, TypeVar

from shipper.event import TAG_READ_ERROR, TAG_UNPARSED
from shipper.sources.base import Origin, RawChunk
from shipper.sources.export import Fields, Tags
from shipper.sources.journal_entries import (
    CHUNK_ENTRIES,
    Packed,
    journal_module,
    packed_upto,
    place_after,
    read_entries,
    read_packed,
    skip,
    stopped_message,
)
from shipper.sources.journal_files import JournalFile, Pinned
from shipper.sources.journal_header import HEADER_BYTES, parse_header
from shipper.sources.journal_numbers import Numbering, cursor_at, cursor_if, numbering
from shipper.sources.journal_resume import read_on
from shipper.sources.stream import InputStream

Batch = TypeVar("Batch")

# A new reader this often (see `JournalSource._read`): ~0.3 ms each, 1% of reading the entries.
REOPEN_ENTRIES = 10_000


class JournalSource:
    """Journal files read together, oldest entry first (as ``journalctl --file``/``-D``)."""

    def __init__(self, source_id: str, files: list[JournalFile]) -> None:
        self.source_id = source_id
        self.origin = Origin(source_id, "journal")
        self._files = files
        self._pinned = Pinned(files)  # open now: the files as listed, whatever happens to their names
        self._reader: Any = None
        self._total: int | None = None
        self._entries = 0
        self.errors: list[str] = []  # read errors met by `segments`

    def total(self) -> int | None:
        """Bytes of the files on disk, like every other source, so one progress bar can add them
        up. Progress is reported in the same unit: entries read scaled by the entry count in the
        files' headers. The reader skips entries stored twice (and a live file may grow), so the
        last chunk's progress is raised to this total and a progress bar ends at 100%."""
        entries = size = 0
        for f in self._files:
            stream = InputStream.open_path(f.path) if f.fd is None else InputStream.open_fd(f.path, f.fd, closefd=False)
            try:
                header = parse_header(stream.peek(HEADER_BYTES))
                size += stream.size or 0
            finally:
                stream.close()
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
        for items, cursor in self._read(good, errors):
            done += len(items)
            if held is not None:
                yield held
            held = RawChunk(self.origin, "fields", items, checkpoint=cursor, progress=self._progress(done))
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
        old one mapped go: see the module doc)."""
        if not paths:
            return
        self._reader = journal_module()._Reader(0, None, paths)
        cursor: str | None = None
        while True:
            entries = read_on(paths, self._reader, read_entries, _CHUNKS.cursor, errors, cursor)
            since_open = 0
            for items, cursor in entries:
                yield items, cursor
                since_open += len(items)
                if since_open >= REOPEN_ENTRIES and len(items) == CHUNK_ENTRIES:
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
                errors.append(stopped_message(cursor, exc))
                return

    def segments(self, size: int, warm: int) -> Iterator[Segment]:
        """The entries as segments of ``size`` for worker processes (`segment_chunks`), each with
        where the ``warm`` entries before it start; found by sequence number where the files'
        headers allow it, else by stepping over the entries in C (`_boundaries`).
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
        for start, end in _boundaries(paths, size, warm):
            done += size
            yield Segment(paths, warm_from, after, size, self._progress(done), warm, end)
            warm_from, after = start, end
        yield Segment(paths, warm_from, after, None, self._total or self._progress(done), warm)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        self._pinned.close()

    def _openable(self) -> tuple[list[str], list[str]]:
        """The paths of the files sd_journal opens (`Pinned`), and the errors of the others
        (named as the user gave them) and of damaged archives."""
        paths, errors = self._pinned.paths()
        good, bad = _openable(paths)
        errors += [f"shipper: cannot open journal file {self._pinned.given(p)}: {why}; it is damaged or not a journal file"
                   for p, why in bad]
        return good, errors


@dataclass(frozen=True, slots=True)
class Segment:
    """``count`` entries (None: all the rest) after the entry ``after`` (None: from the first), but
    none after the entry ``until`` (None: no such bound); the entries after ``warm_from`` up to
    ``after`` precede them (None: none)."""

    paths: tuple[str, ...]
    warm_from: str | None
    after: str | None
    count: int | None
    progress: int  # for the progress bar, when the segment is done
    warm: int = 0  # how many entries are after ``warm_from`` up to ``after``
    until: str | None = None  # the cursor of its last entry, where the cut found it


class SegmentReaders:
    """A worker's journal reader, kept from one segment to the next and placed at each segment's
    start by its cursor. A new reader's first reads fault in the files' pages again: segments of
    2,000 entries read at 2.8 µs an entry with a new reader each, at 1.7 with the reader kept. A
    new one is opened every `REOPEN_ENTRIES` entries read (to let the mapped pages go: see the
    module doc), for other files, and after a read error."""

    def __init__(self) -> None:
        self._paths: tuple[str, ...] = ()
        self._reader: Any = None
        self._read = 0

    def after(self, paths: tuple[str, ...], cursor: str | None) -> Any:
        """A reader over ``paths`` placed after the entry ``cursor`` (None: at the first entry)."""
        if self._reader is not None and (paths != self._paths or self._read >= REOPEN_ENTRIES):
            self.close()
        if self._reader is None:
            self._reader, self._paths, self._read = journal_module()._Reader(0, None, list(paths)), paths, 0
        if cursor is None:
            self._reader.seek_head()
        elif not place_after(self._reader, cursor) and self._read:
            # A reader that read past a damaged part of a file may no longer find entries before
            # where it is (systemd 252): a new one does.
            self.close()
            return self.after(paths, cursor)
        return self._reader

    def done(self, read: int, failed: bool) -> None:
        """The segment's reading is over: ``read`` entries were read, ``failed``: with an error."""
        self._read += read
        if failed:
            self.close()

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None


@dataclass(frozen=True, slots=True)
class _Reading(Generic[Batch]):
    """How a segment's entries are read: in batches by ``read``, each with ``count`` entries, the
    last one's ``cursor``, and ``upto``: how many of them come up to the entry of a cursor, that
    one included (None: it is not among them)."""

    read: Callable[[Any, list[str], int | None], Iterator[Batch]]
    count: Callable[[Batch], int]
    cursor: Callable[[Batch], str | None]
    upto: Callable[[Batch, str], int | None]


Chunk = tuple[list[Fields], str | None]  # as `read_entries` gives them


def _chunk_upto(chunk: Chunk, cursor: str) -> int | None:
    return next((n for n, entry in enumerate(chunk[0], 1) if entry["__CURSOR"] == cursor), None)


_CHUNKS: _Reading[Chunk] = _Reading(read_entries, lambda chunk: len(chunk[0]), lambda chunk: chunk[1], _chunk_upto)
_PACKS: _Reading[Packed] = _Reading(read_packed, lambda packed: packed.count, lambda packed: packed.cursor, packed_upto)


def segment_chunks(
    origin: Origin, seg: Segment, warm: bool, errors: list[str], readers: SegmentReaders
) -> tuple[list[RawChunk], Iterator[RawChunk]]:
    """The chunks of a segment, and (with ``warm``) before them the entries that precede it, to
    rebuild the state of whoever reads them. Read errors are added to ``errors``."""
    before, reader = _segment_start(seg, warm, readers, _CHUNKS)
    rest = _segment_rest(reader, seg, errors, readers, _CHUNKS)
    return ([RawChunk(origin, "fields", items) for items, _ in before],
            (RawChunk(origin, "fields", items, checkpoint=cursor, progress=seg.progress) for items, cursor in rest))


def segment_packs(
    origin: Origin, seg: Segment, warm: bool, errors: list[str], readers: SegmentReaders
) -> tuple[list[Packed], Iterator[Packed]]:
    """`segment_chunks`, packed by the C reader (`read_packed`), the warm-up's entries too."""
    before, reader = _segment_start(seg, warm, readers, _PACKS)
    return before, _segment_rest(reader, seg, errors, readers, _PACKS)


def _segment_start(seg: Segment, warm: bool, readers: SegmentReaders, how: _Reading[Batch]) -> tuple[list[Batch], Any]:
    """The warm-up's batches as ``how`` reads them, and a reader placed at the segment's first
    entry (None: no files)."""
    before: list[Batch] = []
    if not seg.paths:
        return before, None
    if warm and seg.warm_from is not None and seg.after is not None:
        reader = readers.after(seg.paths, seg.warm_from)
        before = list(how.read(reader, [], seg.warm))
        readers.done(sum(map(how.count, before)), False)
        if not before or how.cursor(before[-1]) != seg.after:  # entries gone or new: continue exactly after ``after``
            reader = readers.after(seg.paths, seg.after)
    else:
        reader = readers.after(seg.paths, seg.after)
    return before, reader


def error_chunk(origin: Origin, errors: list[str], **position: Any) -> RawChunk:
    """The items that report read errors, tagged ``unparsed`` and ``read_error``."""
    items: list[Fields] = [{"MESSAGE": message} for message in errors]
    tags: dict[int, Tags] = dict.fromkeys(range(len(items)), (TAG_UNPARSED, TAG_READ_ERROR))
    return RawChunk(origin, "fields", items, tags=tags, **position)


def _segment_rest(reader: Any, seg: Segment, errors: list[str], readers: SegmentReaders,
                  how: _Reading[Batch]) -> Iterator[Batch]:
    """The segment's batches as ``how`` reads them, then the reader's use is told to ``readers``."""
    if reader is None:
        return
    done, failed = 0, len(errors)
    try:
        for batch in _up_to_end(reader, seg, errors, readers, how):
            done += how.count(batch)
            yield batch
    finally:
        readers.done(done, len(errors) > failed)


def _up_to_end(reader: Any, seg: Segment, errors: list[str], readers: SegmentReaders,
               how: _Reading[Batch]) -> Iterator[Batch]:
    """``seg.count`` entries from the reader's place, but none after the segment's last entry,
    ``seg.until``. The cut counts entries by their numbers (`_numbered`), and sd_journal passes
    over those it cannot read (a damaged file): such a segment holds fewer entries than its count,
    and its count would read into the next segment. The batch that runs past the end is read
    again up to it (its read errors after the end are the next segment's). The last segment, the
    rest of the journal, is read on past where sd_journal stops, as one process reads it (`read_on`);
    another one is read short there, and done again in the main process (`ParallelReplay._again`)."""
    after = seg.after
    own: list[str] = []  # the read errors of the batch being read
    batches: Iterator[Batch]
    if seg.count is None:
        batches = read_on(list(seg.paths), reader, how.read, how.cursor, own, after)
    else:
        batches = how.read(reader, own, seg.count)
    for batch in batches:
        last = how.cursor(batch)
        upto = None if seg.until is None or not _may_pass(last, seg.until) else how.upto(batch, seg.until)
        if upto is not None:
            yield from how.read(readers.after(seg.paths, after), errors, upto)
            return
        errors += own
        own.clear()
        yield batch
        after = last
    errors += own


def read_in_full(seg: Segment, read: int) -> bool:
    """Whether ``read`` entries, what a worker read of ``seg``, are all the segment's entries.

    A segment that ends before the rest of the journal holds ``count`` entries, or fewer where
    the cut counted them by number and sd_journal passes silently over some it cannot read (a
    damaged file: `_up_to_end`); so fewer than ``count`` is not in itself a short read (a reader
    that stopped early, or started past the segment's first entry). Then a new reader placed at
    the segment's start, as a worker's is, steps over ``read`` entries: they are all of them if it
    lands on the segment's last entry, ``until``. That is a step over (C's `skip`, ~0.3 µs an entry)
    for such segments only: one read in full (``count`` entries) is not stepped over. The last
    segment (the rest of the journal, which may grow) has no end to compare with: it is taken as
    read in full."""
    if seg.count is None or seg.until is None or read >= seg.count:
        return True
    if read <= 0 or not seg.paths:
        return False  # (it holds at least its last entry)
    reader = None
    try:
        if seg.after is None:
            reader = journal_module()._Reader(0, None, list(seg.paths))
            reader.seek_head()
        else:
            reader = reopen_after(list(seg.paths), seg.after)
        return skip(reader, read) == read and bool(reader.test_cursor(seg.until))
    except OSError:
        return False  # (done again, the reading meets it again and says so)
    finally:
        if reader is not None:
            reader.close()


def _may_pass(last: str | None, until: str) -> bool:
    """Whether a batch ending at the cursor ``last`` may hold ``until`` before its end. Cursors of
    one numbering (``s=ID;i=NUMBER;...``) say it by their numbers, without searching the batch:
    a batch that ends before ``until`` does not hold it, one that ends at it is whole."""
    if last is None or last == until:
        return False
    mine, end = _number(last), _number(until)
    return mine is None or end is None or mine[0] != end[0] or mine[1] > end[1]


def _number(cursor: str) -> tuple[str, int] | None:
    """A cursor's sequence number id and number (None if it has none that reads)."""
    fields = dict(part.partition("=")[::2] for part in cursor.split(";"))
    try:
        return fields["s"], int(fields["i"], 16)
    except (KeyError, ValueError):
        return None


def _boundaries(paths: tuple[str, ...], size: int, warm: int) -> Iterator[tuple[str | None, str]]:
    """After each segment of ``size`` entries but the last, in turn: the cursors of the next
    segment's first warm-up entry (None without warm-up) and of the segment's own last entry.
    Found by sequence number where the files allow it (`journal_numbers`), else by stepping over
    the entries. A damaged file ends them (the last segment reads up to the damage and reports it)."""
    end: str | None = None
    numbers = numbering(paths)
    if numbers is not None:
        for start, end in _numbered(paths, numbers, size, warm):
            yield start, end
    yield from _stepped(paths, size, warm, end)


def _numbered(paths: tuple[str, ...], numbers: Numbering, size: int, warm: int) -> Iterator[tuple[str | None, str]]:
    """`_boundaries` by sequence number, until an entry is not where the headers put it (the
    first entry is checked too: the k-th entry is the one numbered ``head + k`` only if it is)."""
    reader = journal_module()._Reader(0, None, list(paths))
    try:
        reader.seek_head()
        if not (reader._next() and cursor_if(reader, numbers, 0)):
            return
        for first in range(size, numbers.count, size):  # the next segment's first entry
            if first % REOPEN_ENTRIES < size:  # let the pages the searches mapped go (see the module doc)
                reader.close()
                reader = journal_module()._Reader(0, None, list(paths))
            if warm:  # the warm-up's start by number, then the segment's end `warm` entries on
                start = cursor_at(reader, numbers, first - warm - 1)
                end = cursor_if(reader, numbers, first - 1) if start and reader._next(warm) else None
            else:
                start, end = None, cursor_at(reader, numbers, first - 1)
            if end is None:
                return
            yield start, end
    except OSError:
        pass
    finally:
        reader.close()


def _stepped(paths: tuple[str, ...], size: int, warm: int, after: str | None) -> Iterator[tuple[str | None, str]]:
    """`_boundaries` by stepping over the entries after the entry ``after`` (None: from the first).
    A step cut short means the end of the journal at that moment: entries written since belong to
    the last segment (a segment's end found after them would make it shorter than ``size``, and
    its reader would read on into the next one)."""
    reader = None
    try:
        reader = journal_module()._Reader(0, None, list(paths)) if after is None else reopen_after(list(paths), after)
        stepped = 0
        while skip(reader, size - warm) == size - warm:
            start = reader._get_cursor() if warm else None
            if warm and skip(reader, warm) < warm:
                break
            end = reader._get_cursor()
            yield start, end
            stepped += size
            if stepped % REOPEN_ENTRIES < size:  # let the pages stepped over go (see the module doc)
                reader.close()
                reader = reopen_after(list(paths), end)
    except OSError:
        pass
    finally:
        if reader is not None:
            reader.close()


def _openable(paths: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """The files sd_journal opens, and those it does not with the reason."""
    if not paths:
        return [], []
    journal = journal_module()
    try:
        journal._Reader(0, None, paths).close()
        return paths, []
    except (OSError, ValueError):
        pass
    good: list[str] = []
    bad: list[tuple[str, str]] = []
    for path in paths:
        try:
            journal._Reader(0, None, [path]).close()
            good.append(path)
        except (OSError, ValueError) as exc:
            bad.append((path, str(exc)))
    return good, bad


def reopen_after(paths: list[str], cursor: str) -> Any:
    """A new reader over ``paths`` placed after the entry ``cursor`` (see `place_after`)."""
    reader = journal_module()._Reader(0, None, paths)
    place_after(reader, cursor)
    return reader

