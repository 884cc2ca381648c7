"""Where a parallel replay cuts a journal input into segments of a number of entries (`boundaries`,
for `JournalSource.segments`): by the entries' sequence numbers where the files' headers allow it
(`journal_numbers`), else by stepping over the entries in C."""

from __future__ import annotations

from typing import Iterator

from shipper.sources import journal_faults, journal_open
from shipper.sources.journal_entries import journal_module, skip
from shipper.sources.journal_numbers import Numbering, cursor_at, cursor_if, numbering
from shipper.sources.journal_open import reopen_after


def boundaries(paths: tuple[str, ...], size: int, warm: int) -> Iterator[tuple[str | None, str]]:
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
    """`boundaries` by sequence number, until an entry is not where the headers put it (the
    first entry is checked too: the k-th entry is the one numbered ``head + k`` only if it is)."""
    reader = journal_module()._Reader(0, None, list(paths))
    faults = journal_faults.count()
    try:
        reader.seek_head()
        if not (reader._next() and cursor_if(reader, numbers, 0)):
            return
        for first in range(size, numbers.count, size):  # the next segment's first entry
            if first % journal_open.REOPEN_ENTRIES < size:  # let the pages the searches mapped go (see `journal_open`)
                reader.close()
                reader = journal_module()._Reader(0, None, list(paths))
            if warm:  # the warm-up's start by number, then the segment's end `warm` entries on
                start = cursor_at(reader, numbers, first - warm - 1)
                end = cursor_if(reader, numbers, first - 1) if start and reader._next(warm) else None
            else:
                start, end = None, cursor_at(reader, numbers, first - 1)
            if end is None or journal_faults.count() != faults:  # (a file changed under it: not trusted)
                return
            yield start, end
    except OSError:
        pass
    finally:
        reader.close()


def _stepped(paths: tuple[str, ...], size: int, warm: int, after: str | None) -> Iterator[tuple[str | None, str]]:
    """`boundaries` by stepping over the entries after the entry ``after`` (None: from the first).
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
            if stepped % journal_open.REOPEN_ENTRIES < size:  # let the pages stepped over go (see `journal_open`)
                reader.close()
                reader = reopen_after(list(paths), end)
    except OSError:
        pass
    finally:
        if reader is not None:
            reader.close()
