"""Reading a journal on past the place where sd_journal stops before the end of its files.

sd_journal ends a reading early in two ways. It reports an error: systemd-python's reader raises at
a damaged field (the C reader leaves the field out and goes on), and the C reader's ``pack`` returns
the error number of a call that failed (rare with systemd 252, which passes over the objects it
cannot read). Or, meeting a damaged entry array, it gives up on the file without a word (systemd
252: "Can't iterate through …, ignoring", a debug message): with one file that is the end of the
journal, although the file holds entries after the damage that a new reader finds. journalctl
stops there too; a replay goes on where a new reader can (`Resume`), and says where it stopped and
where it went on (read errors of the input).

A file truncated (or a disk failing) while it is read stops the reading too: sd_journal maps the
files, and reading a mapped page past the new end raises SIGBUS, which the C reader's handler turns
into a read error that names the file (`journal_faults`). sd_journal (252) no longer opens the cut
file: the readers after the stop leave it out and read on in the others (`journal_open.still_open`).

The same stop gives the same readers, however the entries before it were read: one process's
replay and a parallel replay (which reads the rest of an input itself where a segment stops:
`shipper.parallel.replay`) give the same documents.
"""

from __future__ import annotations

from typing import Any, Callable, Generator, Iterator, TypeVar

from shipper.sources import journal_faults
from shipper.sources.journal_entries import journal_module, place_after, skip, stopped_message
from shipper.sources.journal_header import cursor_number
from shipper.sources.journal_numbers import Numbering, numbering
from shipper.sources.journal_open import still_open

Batch = TypeVar("Batch")

SKIPS = 8  # entries stepped over, one more at each try, where the entry after a stop cannot be read
LINEAR = 64  # entry numbers tried one after the other past a stop; then further and further apart


def read_on(paths: list[str], reader: Any, read: Callable[[Any, list[str], int | None], Iterator[Batch]],
            cursor: Callable[[Batch], str | None], errors: list[str], last: str | None) -> Generator[Batch, None, None]:
    """The batches ``read`` gives from ``reader`` (placed after the entry ``last``; None: at the
    first entry) and, where the reading ends, those of the readers `Resume` places after the end,
    until none finds more. Read errors go to ``errors`` (those of a reader that fails at once where
    the one before it failed are the same again: left out). ``reader`` stays the caller's."""
    resume = Resume(paths, errors)
    current = reader
    try:
        while current is not None:
            own: list[str] = []
            moved = stopped = changed = False
            for batch in read(current, own, None):
                if not moved:
                    resume.reading()
                stopped = stopped or any(map(_is_stop, own))
                changed = changed or any(map(journal_faults.is_changed, own))
                errors += own
                own.clear()
                moved, last = True, cursor(batch) or last
                yield batch
            stopped = stopped or any(map(_is_stop, own))
            changed = changed or any(map(journal_faults.is_changed, own))
            if moved or current is reader:
                errors += [_placed(message, last) for message in own]
            if current is not reader:
                current.close()
            current = None  # (closed: not again, should `after` fail)
            current = resume.after(last, moved, stopped, changed)
    finally:
        if current is not None and current is not reader:
            current.close()


_STOP = stopped_message(None, OSError()).partition(" after cursor")[0]


def _is_stop(message: str) -> bool:
    """Whether a read error says that the reading stopped (`stopped_message`)."""
    return message.startswith(_STOP)


def _placed(message: str, last: str | None) -> str:
    """A read error of a reader that stopped before its first entry names the entry it was placed
    after, ``last``, as one reading on from there names it (it knows none: "after cursor None")."""
    unknown = f"{_STOP} after cursor None:"
    return f"{_STOP} after cursor {last}:{message[len(unknown):]}" if message.startswith(unknown) else message


class Resume:
    """Readers placed after the place where a reading ended (`after`), one after the other while
    each fails at once: a new reader (sd_journal's own search finds the next entry it can read);
    readers stepped 1 … `SKIPS` entries further, while the one before stopped at an error (the
    entry after the stop cannot be read); and, where the files are numbered by one writer
    (`journal_numbers`) and their headers number entries after the last one read, readers sought
    to those numbers (`_numbers_after`).

    A reader that finds no entry, without an error, is not followed by a stepped one: the files may
    be written meanwhile (a live journal), and a step would pass over the first entry written since,
    unread. A reader sought by number passes over none."""

    def __init__(self, paths: list[str], errors: list[str]) -> None:
        self._paths = paths
        self._errors = errors
        self._tries: Iterator[tuple[Any, str]] | None = None  # the readers to try after the stop
        self._stops: set[str | None] = set()
        self._went = ""  # what to say once the reader given last reads an entry
        self._changed = False  # the reading stopped because a file changed under it
        self._failed = False  # the reader given last stopped at an error (not: found no entry)
        # How the files' headers number their entries, read again at each stop where the readers
        # tried come to seek by number (`_numbers_after`), which `_said_end` compares with: the
        # files may have grown since the stop before (a live journal).
        self._numbers: Numbering | None = None

    def reading(self) -> None:
        """The reader given last reads: say how it was placed (where that is worth saying)."""
        if self._went:
            self._errors.append(self._went)
            self._went = ""

    def after(self, last: str | None, moved: bool, stopped: bool, changed: bool = False) -> Any | None:
        """A reader placed after ``last`` (None: before the first entry), the last entry read,
        where a reading ended (``stopped``: it said it stopped at an error; ``changed``: a file
        changed under it, which it said: `journal_faults.changed`); if the reader given before read
        nothing (``moved`` False), the next one to try. None when none finds more."""
        if moved or self._tries is None:
            if last in self._stops:
                return None  # (never seen: a stop that comes back after reading on)
            self._stops.add(last)
            self._tries = self._placed(last, stopped)
            self._changed = changed
        else:
            self._failed = stopped or changed
        for reader, went in self._tries:
            self._went = went
            return reader
        self._went = ""
        if not self._changed:  # (the read error of the change says what was not read)
            self._said_end(last)
        return None

    def _said_end(self, last: str | None) -> None:
        """Where no reader goes on after ``last``: say it if the files' headers number entries after it."""
        numbers = self._numbers
        found = cursor_number(last) if last is not None and numbers is not None else None
        if numbers is None or found is None or found[0] != numbers.seqnum_id:
            return
        end = numbers.head + numbers.count - 1
        if not numbers.head <= found[1] <= end:
            self._errors.append(f"shipper: reading the journal stopped after cursor {last}, whose number is not one of "
                                f"those its files' headers give ({numbers.head} to {end}): a damaged entry; the entries "
                                "after it may not have been read (journalctl --verify --file FILE says which file is damaged)")
        elif found[1] < end:
            self._errors.append(f"shipper: reading the journal stopped after cursor {last}, {end - found[1]} entries before "
                                "the last one its files' headers give, and no reader could go on after it: a file is "
                                "damaged (journalctl --verify --file FILE says which)")

    def _placed(self, last: str | None, stopped: bool) -> Iterator[tuple[Any, str]]:
        """The readers to try after ``last``, with what to say once one reads an entry."""
        reader = self._open(last)
        if reader is not None:
            yield reader, (f"shipper: reading the journal went on after cursor {last}, at the next entry sd_journal "
                           "could read" if stopped else "")
        for step in range(1, SKIPS + 1):
            if not self._failed:
                break  # the reader before found no entry after ``last`` to step over (see the class doc)
            reader = self._stepped(last, step)
            if reader is None:
                break  # nothing more that sd_journal can reach
            yield reader, (f"shipper: reading the journal went on after cursor {last}, past the "
                           f"{'entry' if step == 1 else f'{step} entries'} after it, which could not be read; a file is "
                           "damaged (journalctl --verify --file FILE says which)")
        yield from self._numbers_after(last)

    def _numbers_after(self, last: str | None) -> Iterator[tuple[Any, str]]:
        """Readers placed at the entries numbered after ``last``, where the files are numbered
        and their headers number entries after it: the next `LINEAR` numbers, then numbers twice
        as far apart each time, up to the last number; each that lands on an entry is given."""
        numbers = self._numbers = numbering(self._paths)
        start = self._number(last, numbers)
        if numbers is None or start is None:
            return
        end = numbers.head + numbers.count
        number, gap = start + 1, 1
        while number < end:
            placed = self._seek(numbers.seqnum_id, number)
            if placed is not None:
                reader, number = placed
                yield reader, "" if number == start + 1 else (  # (none passed over: the next entry, written since)
                    f"shipper: reading the journal stopped after cursor {last} (a damaged file) and went on at the "
                    f"entry numbered {number}: the {number - start - 1} entries numbered between them could not be "
                    "read; journalctl --verify --file FILE says which file is damaged")
            if number - start >= LINEAR:
                gap *= 2
            number += gap

    def _new(self, last: str | None) -> Any | None:
        """A new reader over the files; a file sd_journal no longer opens (truncated under the
        reading, say) is left out from now on, and said (`still_open`). None if none opens."""
        try:
            return journal_module()._Reader(0, None, self._paths)
        except OSError:
            left = still_open(self._paths, last, self._errors, self._changed)
            if not left or left == self._paths:
                return None
            self._paths = left
            return self._new(last)

    def _open(self, last: str | None) -> Any | None:
        """A new reader after the entry ``last`` (None: before the first); None if it cannot be opened."""
        reader = self._new(last)
        if reader is None:
            return None
        try:
            if last is None:
                reader.seek_head()
            else:
                place_after(reader, last)
            return reader
        except OSError:
            reader.close()
            return None

    def _stepped(self, last: str | None, step: int) -> Any | None:
        """A new reader ``step`` entries after the entry ``last``; None if sd_journal reaches fewer."""
        reader = self._open(last)
        if reader is None:
            return None
        try:
            if skip(reader, step) == step:
                return reader
        except OSError:
            pass
        reader.close()
        return None

    def _seek(self, seqnum_id: str, number: int) -> tuple[Any, int] | None:
        """A reader placed before the first entry numbered ``number`` or more that sd_journal
        finds by that number, and its number; None if it finds none."""
        reader = self._new(None)
        if reader is None:
            return None
        try:
            reader.seek_cursor(f"s={seqnum_id};i={number:x}")
            if reader._next():
                cursor: str = reader._get_cursor()
                found = cursor_number(cursor)
                if found is not None and found[0] == seqnum_id and found[1] >= number:
                    reader.seek_cursor(cursor)  # the next read lands on it
                    return reader, found[1]
        except OSError:
            pass
        reader.close()
        return None

    @staticmethod
    def _number(last: str | None, numbers: Numbering | None) -> int | None:
        """The number of the entry ``last`` in ``numbers`` (None: one less than the first's)."""
        if numbers is None:
            return None
        if last is None:
            return numbers.head - 1
        found = cursor_number(last)
        if found is None or found[0] != numbers.seqnum_id or not numbers.head <= found[1] < numbers.head + numbers.count:
            return None
        return found[1]
