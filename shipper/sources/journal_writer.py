"""The entries one writer numbered, in a followed journal, read in their order; and where reading is.

Every journal entry carries a sequence number from the writer that appended it (journald, one
host's systemd-journal-remote), with the writer's ``seqnum_id``; a writer keeps its id in the files
it rotates to. sd_journal orders one writer's entries by that number, but entries of different
writers by their boot's monotonic clock, else by their wall-clock time. So one reader over several
writers' files, once it has read an entry, never reads an entry appended later that sorts before
it: a host whose upload comes late, a boot whose clock is behind the previous one's (journalctl
from the head still shows them). So each writer has its own reader, over its own files only, and
its own position (`JournalMark`), and is its own stream for the daemon: its checkpoint is a cursor
of its own entries.

A writer's files are held open (`Pins`) while it still has to read them: a file vacuumed meanwhile
is read to its end before it is let go. Memory: sd_journal maps what it reads and keeps it mapped,
so the reader is opened again at its position every `REOPEN_ENTRIES` entries, over only the files
that can hold entries after the position (not the archived ones whose entries all come before it);
but sd_journal opens no deleted file, so a reader that has one open with entries still to read is
opened again only once it has read them (its mappings then grow up to that file's size).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

from shipper.config.model import JournalInput
from shipper.sources import journal_faults
from shipper.sources.base import Origin
from shipper.sources.export import Fields
from shipper.sources.journal_dir import Ident, Listed, Pins
from shipper.sources.journal_entries import journal_module, place_after, read_entries
from shipper.sources.journal_header import cursor_number, cursor_time
from shipper.sources.live import Gap, JournalMark, iso

# sd_journal maps the files it reads and keeps the mappings: after a million entries they count
# hundreds of MB of resident memory (file pages). The reader is reopened at its position this often:
# a new reader maps ~15 MB of a directory systemd-journal-remote writes (headers, entry arrays, the
# fields all entries share), then ~1 MB more per 1,000 entries; reopening takes ~1 ms.
REOPEN_ENTRIES = 10_000
UNIT_FIELDS = ("_SYSTEMD_UNIT", "UNIT", "OBJECT_SYSTEMD_UNIT", "COREDUMP_UNIT")
Start = Union[str, float]  # where a writer seen for the first time starts: "head", "tail", or a time (epoch s)


@dataclass(frozen=True, slots=True)
class Saved:
    """A writer's position as a checkpoint holds it. ``settled``: no file of the writer could grow,
    and the output had acknowledged everything read of it."""

    mark: JournalMark
    settled: bool = False


class Writer:
    def __init__(self, seqnum_id: str, origin: Origin, cfg: JournalInput, pins: Pins, where: str) -> None:
        self.seqnum_id = seqnum_id
        self.origin = origin
        self._cfg = cfg
        self._pins = pins
        self._where = where  # "the journal in /var/log/remote", for messages
        self._files: dict[Ident, Listed] = {}  # as last listed; also those gone since, until read
        self._present: set[Ident] = set()
        self._reader: Any = None  # None: no file to read
        self._opened: set[Ident] = set()  # the files the reader has open
        self.committed = JournalMark(None)  # acknowledged by the output
        self.start = JournalMark(None)  # where this run started reading
        self.last: str | None = None  # the cursor of the last entry read
        self.last_time = float("-inf")  # its realtime (epoch s)
        self.caught_up = False  # the last read found nothing new
        self._since_open = 0  # entries read since the reader was opened
        self._faults = 0  # journal_faults.count() when it was opened
        self._stale = False  # a file to add to the reader, or to let go of
        self._gaps: list[Gap] = []  # to report
        self._errors: list[str] = []  # files sd_journal could not open, to report as read errors
        self._refused: set[Ident] = set()  # (each said once)
        self._skipped: set[Ident] = set()  # needed, but their name was gone when the reader was opened

    # -- files ------------------------------------------------------------------------------------
    def update(self, listed: list[Listed]) -> None:
        """The writer's files as just listed. Those no longer listed stay open until read; one
        reading needs that was gone before it was opened (vacuumed meanwhile) is a `Gap`."""
        self._files.update((f.ident, f) for f in listed)
        self._present = {f.ident for f in listed}
        for f in [f for i, f in self._files.items() if i not in self._opened]:
            present, needed = f.ident in self._present, self._needs(f)
            if (needed or f.ident in self._skipped) and not (present and needed):  # (skipped: reading went on past it)
                self._gaps.append(self._lost(f))
            if not present:
                del self._files[f.ident]
            elif needed:
                self._stale = True  # a new file, or one to try again
        self._skipped.clear()

    def gone(self) -> bool:
        """Its files are gone, and were read to their end, and the output acknowledged them."""
        return not self._files and self._acknowledged()

    def _needs(self, f: Listed) -> bool:
        """Reading on from the position may need ``f``: all but a finished file whose entries all
        come before the position's."""
        number = self._number(self.last or self.committed.cursor)
        return not (f.finished and number is not None and f.header.tail_seqnum < number)

    def _number(self, cursor: str | None) -> int | None:
        """The sequence number of ``cursor``'s entry, if it is one of this writer's."""
        number = cursor_number(cursor or "")
        return number[1] if number is not None and number[0] == self.seqnum_id else None

    def _holds_deleted(self) -> bool:
        """The reader has a file open that was deleted and may still hold entries to read: it
        reads on in it, a new reader could not open it (sd_journal opens no deleted file)."""
        return any(self._pins.deleted(i) and self._needs(self._files[i]) for i in self._opened if i in self._files)

    def _open(self) -> None:
        """A reader over the files reading may need (held open from now on); the others are let go.
        A file needed but deleted before it could be opened is a `Gap`."""
        self.close()
        self._faults = journal_faults.count()
        paths: dict[str, Listed] = {}
        for f in list(self._files.values()):
            needed = self._needs(f)
            try:
                path = self._pins.path(f) if needed else None
            except FileNotFoundError:  # renamed or deleted since it was listed: the next listing says which
                self._skipped.add(f.ident)
                continue
            except OSError as exc:  # not now: tried again at the next reopen
                self._refuse(f, exc)
                continue
            if path is not None:
                paths[path] = f
                continue
            self._pins.release(f.ident)
            if needed:
                self._gaps.append(self._lost(f))
            if needed or f.ident not in self._present:
                del self._files[f.ident]
        self._reader = self._reader_over(paths)
        if self._reader is not None:
            add_filters(self._reader, self._cfg)
        self._since_open = 0
        self._stale = False

    def _reader_over(self, paths: dict[str, Listed]) -> Any:
        """An sd_journal reader over ``paths``; a file it cannot open (damaged, or written by a newer
        systemd) is left out, said once as a read error, and tried again at the next reopen."""
        journal = journal_module()
        good = list(paths)
        try:
            reader = journal._Reader(0, None, good) if good else None
        except OSError:  # (sd_journal opens all the files or none): which?
            good = [path for path in good if self._opens(journal, path, paths[path])]
            try:
                reader = journal._Reader(0, None, good) if good else None
            except OSError as exc:  # each alone, not all together (too many files open)
                for path in good:
                    self._refuse(paths[path], exc)
                good, reader = [], None
        self._opened = {paths[path].ident for path in good}
        return reader

    def _opens(self, journal: Any, path: str, f: Listed) -> bool:
        try:
            journal._Reader(0, None, [path]).close()
            return True
        except OSError as exc:
            self._refuse(f, exc)
            return False

    def _refuse(self, f: Listed, exc: OSError) -> None:
        """``f`` cannot be read now: said once (as a read error), tried again at the next reopen."""
        if f.ident not in self._refused:
            self._refused.add(f.ident)
            self._errors.append(f"shipper: cannot read the journal file {f.path}: {exc.strerror or exc}; "
                                "skipping it (it is tried again later)")

    def _lost(self, f: Listed) -> Gap:
        since = self.last_time if self.last is not None else shipped_time(self.committed)
        until = f.header.tail_realtime / 1e6 if f.header.tail_realtime else None
        since_text = iso(since) if since is not None else "an unknown time"
        until_text = iso(until) if until is not None else "its end"
        return Gap(since, until, (
            f"{f.path} ({self._where}) was deleted (vacuumed) or moved before shipper could read it: its entries "
            f"between {since_text} and {until_text} may be missing. Keep the journal longer (SystemMaxUse=, "
            "MaxRetentionSec= in journald.conf) or let shipper keep up (a faster output, a less busy host)"))

    def _let_go(self) -> None:
        """The files gone from the directory, read to their end now: let go of them."""
        for ident in [i for i in self._files if i not in self._present]:
            del self._files[ident]
            self._pins.release(ident)
            self._stale = True  # (the reader has them open still)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        self._opened = set()

    def release(self) -> None:
        """Close the reader and let go of every file."""
        self.close()
        for ident in self._files:
            self._pins.release(ident)
        self._files.clear()

    # -- position ---------------------------------------------------------------------------------
    def place(self, saved: Saved | None, start: Start) -> None:
        """Put the reader where this run starts: after the saved position, else at ``start``."""
        if saved is not None:
            self.committed = saved.mark
        self._open()
        if self._reader is not None:  # (else: no file can be opened now; from the position when one can)
            if saved is not None and saved.mark.cursor:
                self._resume(saved.mark)
            elif saved is not None or start == "head":
                self._reader.seek_head()
            elif start == "tail":
                self._seek_tail()
            else:
                self._seek_time(float(start))
        self.start = self.committed

    def _seek_tail(self) -> None:
        """After the newest entry, remembered at once (a restart does not skip what comes meanwhile)."""
        reader = self._reader
        reader.seek_tail()
        if reader._previous():
            self.committed = JournalMark(reader._get_cursor(), iso(reader._get_realtime() / 1e6))
        else:  # nothing yet: all that comes is after the start
            reader.seek_head()

    def _seek_time(self, since: float) -> None:
        """Before the first entry at or after ``since``: after the entry before it, remembered."""
        reader = self._reader
        reader.seek_realtime(int(since * 1_000_000))
        if not reader._next():
            self._seek_tail()
        elif reader._previous():
            self.committed = JournalMark(reader._get_cursor(), iso(reader._get_realtime() / 1e6))
        else:
            reader.seek_head()

    def _resume(self, mark: JournalMark) -> None:
        """After ``mark``'s entry; when it is gone, from its place in the writer's order, and a
        `Gap` when the entries numbered after what was shipped are gone too."""
        assert mark.cursor is not None
        reader = self._reader
        try:
            if place_after(reader, mark.cursor):
                return
        except (OSError, ValueError):  # a cursor sd_journal cannot even parse
            reader.seek_head()
        known = max((n for n in (self._number(mark.cursor), self._number(mark.shipped)) if n is not None), default=None)
        heads = [f.header.head_seqnum for f in self._files.values() if f.header.n_entries]
        if known is not None and heads and min(heads) <= known + 1:
            return  # its entry is gone, not those after it (or the filters changed)
        since = shipped_time(mark)
        oldest = self._oldest()
        reader.seek_head()
        since_text = iso(since) if since is not None else "an unknown time"
        until_text = iso(oldest) if oldest is not None else "now"
        self._gaps.append(Gap(since, oldest, (
            f"{self._where} no longer holds the entries after the last one shipper shipped ({since_text}): they were "
            f"vacuumed or rotated away while shipper was not running. Entries between {since_text} and {until_text} "
            "may be missing; reading resumes at the oldest entry. Keep the journal longer (SystemMaxUse=, "
            "MaxRetentionSec= in journald.conf) or keep shipper running")))

    def _oldest(self) -> float | None:
        """The realtime of the oldest entry (matching the filters), None if there is none."""
        reader = self._reader
        reader.seek_head()
        return float(reader._get_realtime()) / 1e6 if reader._next() else None

    def commit(self, mark: JournalMark) -> None:
        """The output acknowledged everything up to ``mark`` (a position without a cursor: still
        at the start, acknowledged up to its ``shipped``)."""
        shipped = mark.shipped or self.committed.shipped
        base = mark if mark.cursor is not None else self.committed
        self.committed = JournalMark(base.cursor, base.time, shipped)

    def saved(self) -> Saved:
        finished = all(f.finished or i not in self._present for i, f in self._files.items())
        return Saved(self.committed, finished and self.caught_up and self._acknowledged())

    def _acknowledged(self) -> bool:
        return self.last is None or self.committed.shipped == self.last

    # -- reading ----------------------------------------------------------------------------------
    def read(self, limit: int, errors: list[str]) -> list[Fields]:
        """Up to ``limit`` entries after the position (read failures are added to ``errors``)."""
        if self._faulted() or ((self._stale or self._since_open >= REOPEN_ENTRIES) and not self._holds_deleted()):
            self._reopen()
        errors += self._errors
        self._errors = []
        items: list[Fields] = []
        if self._reader is not None:
            entries = read_entries(self._reader, errors, limit=limit, chunk=limit)
            items = next(entries, ([], None))[0]
            entries.close()
        if items:
            self.last = str(items[-1]["__CURSOR"])
            self.last_time = int(str(items[-1]["__REALTIME_TIMESTAMP"])) / 1e6
            self._since_open += len(items)
        self.caught_up = not items and not errors
        if self.caught_up:
            self._let_go()
        return items

    def _faulted(self) -> bool:
        """A file changed under a reader (truncated, or an I/O error) since this one was opened, maybe
        under this one (`journal_faults`): it reads no more (a new one, at the position, leaves out
        a file that no longer opens). A fault in another writer's reader costs this one a reopen."""
        return self._reader is not None and journal_faults.count() != self._faults

    def take_gaps(self) -> list[Gap]:
        gaps, self._gaps = self._gaps, []
        return gaps

    def _reopen(self) -> None:
        """A fresh reader (its mappings released, the files it needs now) at the position."""
        cursor = self.last or self.committed.cursor
        self._open()
        if self._reader is None:
            return
        if cursor is None:
            self._reader.seek_head()
        else:
            place_after(self._reader, cursor)  # (its entry not found: from its place in the writer's order)


def shipped_time(mark: JournalMark) -> float | None:
    """The time of the last entry known to be shipped: ``mark.shipped``'s, else the position's."""
    return cursor_time(mark.shipped or mark.cursor or "")


def add_filters(reader: Any, cfg: JournalInput) -> None:
    terms = [[f"{name}={unit}" for unit in cfg.units] for name in UNIT_FIELDS if cfg.units]
    if cfg.identifiers:
        terms.append([f"SYSLOG_IDENTIFIER={ident}" for ident in cfg.identifiers])
    for i, term in enumerate(terms):
        if i:
            reader.add_disjunction()
        for match in term:
            reader.add_match(match.encode())
    if cfg.priority is not None:
        if terms:
            reader.add_conjunction()
        for level in range(cfg.priority + 1):
            reader.add_match(f"PRIORITY={level}".encode())
