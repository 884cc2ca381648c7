"""Where the n-th entry of a set of journal files is, from the files' headers.

A parallel replay cuts a journal into segments of a fixed number of entries (`JournalSource.segments`).
Stepping over the entries to find where each segment starts costs the main process 0.26-0.34 µs an
entry, a third of a second for 1M entries, while it should be handing out work and sending.

Every entry carries a sequence number from its writer (``seqnum``, with the writer's ``seqnum_id``),
and sd_journal orders entries of one ``seqnum_id`` by it (`compare_locations` in sd-journal.c, from
systemd 252 to today). When all the files of a set come from one writer and the headers say their
entries are numbered from the first to the last without a gap or an entry stored twice (what
systemd-journal-remote writes, or a machine's system journal without user journals), the n-th
entry is the one numbered ``head + n``: a segment's start is found by seeking to
``s=<seqnum_id>;i=<seqnum>``, a binary search in sd_journal.

Headers can be wrong (a file still being written, or damaged), so the first entry and each cursor
found this way are checked to be the entries asked for; at the first that is not, the caller steps
over the entries instead. A machine's journal with user journals has gaps in each file's numbers
(its user and system files share them) and is always stepped over.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from shipper.sources.journal_header import cursor_number, read_header


@dataclass(frozen=True, slots=True)
class Numbering:
    """The entries of a set of files are numbered ``head`` … ``head + count - 1`` by one writer."""

    seqnum_id: str  # 32 hex digits, as in cursors
    head: int
    count: int


def numbering(paths: Sequence[str]) -> Numbering | None:
    """The set's numbering, when its files' headers say the entries are numbered without a gap or
    an overlap by one writer; else None."""
    ids: set[str] = set()
    ranges: list[tuple[int, int]] = []
    for path in paths:
        header = read_header(path)
        if header is None:
            return None
        if header.n_entries == 0:
            continue
        head, tail = header.head_seqnum, header.tail_seqnum
        if head == 0 or tail - head + 1 != header.n_entries:
            return None
        ids.add(header.seqnum_id)
        ranges.append((head, tail))
    if len(ids) != 1:
        return None
    ranges.sort()
    if any(nxt[0] != prev[1] + 1 for prev, nxt in zip(ranges, ranges[1:])):
        return None
    head = ranges[0][0]
    return Numbering(ids.pop(), head, ranges[-1][1] - head + 1)


def cursor_at(reader: Any, numbers: Numbering, index: int) -> str | None:
    """Place ``reader`` (a systemd-python ``_Reader``) on the entry ``index`` (from 0) and return
    its cursor; None if the entry there is not that one."""
    reader.seek_cursor(f"s={numbers.seqnum_id};i={numbers.head + index:x}")
    return cursor_if(reader, numbers, index) if reader._next() else None


def cursor_if(reader: Any, numbers: Numbering, index: int) -> str | None:
    """The cursor of the entry ``reader`` is on if it is the entry ``index``, else None."""
    cursor: str = reader._get_cursor()
    return cursor if cursor_number(cursor) == (numbers.seqnum_id, numbers.head + index) else None
