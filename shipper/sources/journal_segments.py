"""A parallel replay's segments of a journal input (`Segment`, cut by `journal_cut`) and how a
worker reads them (`segment_chunks`, `segment_packs`, with the reader it keeps: `SegmentReaders`);
whether a worker read all of one (`read_in_full`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Generic, Iterator, TypeVar

from shipper.sources import journal_open
from shipper.sources.base import Origin, RawChunk
from shipper.event import TAG_DAMAGED
from shipper.sources.export import Fields
from shipper.sources.journal_entries import (
    Packed,
    damaged_tags,
    journal_module,
    native_reader,
    packed_upto,
    place_after,
    read_entries,
    read_packed,
    skip,
)
from shipper.sources.journal_open import reopen_after, unopened_message
from shipper.sources.journal_resume import read_on

Batch = TypeVar("Batch")


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
    new one is opened every `REOPEN_ENTRIES` entries read (to let the mapped pages go: see
    `journal_open`), for other files, and after a read error."""

    def __init__(self) -> None:
        self._paths: tuple[str, ...] = ()
        self._reader: Any = None
        self._read = 0

    def after(self, paths: tuple[str, ...], cursor: str | None) -> Any:
        """A reader over ``paths`` placed after the entry ``cursor`` (None: at the first entry)."""
        if self._reader is not None and (paths != self._paths or self._read >= journal_open.REOPEN_ENTRIES):
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
    before, reader = _segment_start(seg, warm, errors, readers, _CHUNKS)
    rest = _segment_rest(reader, seg, errors, readers, _CHUNKS)
    return ([RawChunk(origin, "fields", items) for items, _ in before],
            (RawChunk(origin, "fields", items, tags=damaged_tags(items), checkpoint=cursor, progress=seg.progress)
             for items, cursor in rest))


def segment_packs(
    origin: Origin, seg: Segment, warm: bool, errors: list[str], readers: SegmentReaders
) -> tuple[list[Packed], Iterator[Packed | RawChunk]]:
    """`segment_chunks`, packed by the C reader (`read_packed`), the warm-up's entries too; but a
    batch with entries read without some of their fields comes unpacked, with those tagged."""
    before, reader = _segment_start(seg, warm, errors, readers, _PACKS)
    return before, (_tagged(origin, packed) for packed in _segment_rest(reader, seg, errors, readers, _PACKS))


def _tagged(origin: Origin, packed: Packed) -> Packed | RawChunk:
    if not packed.incomplete:
        return packed
    items = native_reader().unpack(packed.data, 0, len(packed.data))
    return RawChunk(origin, "fields", items, tags=dict.fromkeys(packed.incomplete, (TAG_DAMAGED,)))


def _segment_start(seg: Segment, warm: bool, errors: list[str], readers: SegmentReaders,
                   how: _Reading[Batch]) -> tuple[list[Batch], Any]:
    """The warm-up's batches as ``how`` reads them, and a reader placed at the segment's first
    entry (None: no files, or they cannot be opened now: said in ``errors``)."""
    if not seg.paths:
        return [], None
    try:
        return _placed_at_start(seg, warm, readers, how)
    except OSError as exc:  # (a file changed since the segments were cut: truncated, say)
        readers.close()
        errors.append(unopened_message(list(seg.paths), seg.after, exc))
        return [], None


def _placed_at_start(seg: Segment, warm: bool, readers: SegmentReaders, how: _Reading[Batch]) -> tuple[list[Batch], Any]:
    before: list[Batch] = []
    if warm and seg.warm_from is not None and seg.after is not None:
        reader = readers.after(seg.paths, seg.warm_from)
        before = list(how.read(reader, [], seg.warm))
        readers.done(sum(map(how.count, before)), False)
        if not before or how.cursor(before[-1]) != seg.after:  # entries gone or new: continue exactly after ``after``
            reader = readers.after(seg.paths, seg.after)
    else:
        reader = readers.after(seg.paths, seg.after)
    return before, reader


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

