"""Following the journal: the local system journal, or a directory of journal files, as it grows.

Read through ``sd_journal`` (systemd-python's low-level reader, as `shipper.sources.journal`), not a
``journalctl`` subprocess. The reader's file descriptor (inotify) wakes the daemon when entries are
appended or files are added (journald and systemd-journal-remote rotate files).

Filters: ``units`` match ``_SYSTEMD_UNIT=`` (the unit's own processes) and also ``UNIT=``,
``OBJECT_SYSTEMD_UNIT=`` and ``COREDUMP_UNIT=`` (what PID 1, and others, write *about* the unit:
"Main process exited", "Failed with result"); ``identifiers`` match ``SYSLOG_IDENTIFIER=``; an
entry matching either is shipped. ``priority`` keeps entries of that priority or more severe.

Memory: sd_journal maps what it reads and keeps it mapped, so the reader is reopened at its
position every `REOPEN_ENTRIES` entries. It also maps ~0.5 MB of every file it has open, and a
directory that systemd-journal-remote kept writing through a long outage holds a hundred files:
once a position is known, a directory input opens only the files reading can still need (not the
archived ones whose entries all come before the position), and opens them again when the
directory's files change (rotation, vacuum).

Position: reading resumes after the checkpoint's cursor. ``seek_cursor`` followed by ``next``
lands *on* the cursor's entry when it still exists (`test_cursor` says whether it does), and that
entry is skipped. When it is gone (the journal was vacuumed while shipper was not running), reading
resumes at the oldest entry and a `Gap` says which time span may be missing.
"""

from __future__ import annotations

import os
import re
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from shipper.config.model import JournalInput
from shipper.event import TAG_READ_ERROR, TAG_UNPARSED
from shipper.parse.journal_fields import NATIVE
from shipper.sources.base import Origin, RawChunk
from shipper.sources.journal_entries import journal_module, native_reader, place_after, read_entries
from shipper.sources.journal_header import cursor_number, read_header
from shipper.sources.live import Gap, JournalMark, Log, Polled, iso

# Entries read per poll. The daemon takes what one poll returns through every stage (parsing, ids,
# recognition, encoding) before the next poll, so a small chunk keeps its documents in the CPU's
# caches from stage to stage: 256 rather than 2,000 cost about a quarter less CPU an entry.
POLL_ENTRIES = 256
_REALTIME_IN_CURSOR = re.compile(r"(?:^|;)t=([0-9a-f]+)")
# sd_journal maps the files it reads and keeps the mappings: after a million entries they count
# hundreds of MB of resident memory (file pages). The reader is reopened at its position this often:
# a new reader maps ~15 MB of a directory systemd-journal-remote writes (headers, entry arrays, the
# fields all entries share), then ~1 MB more per 1,000 entries; reopening takes ~1 ms.
REOPEN_ENTRIES = 10_000
# Seconds between looks for new or rotated files, when only some are open; and after a poll that
# found nothing new (a rotation looks like that: the open files end, the new one is not open yet).
LIST_EVERY = 0.5
UNIT_FIELDS = ("_SYSTEMD_UNIT", "UNIT", "OBJECT_SYSTEMD_UNIT", "COREDUMP_UNIT")
JOURNAL_SUFFIXES = (".journal", ".journal~")


def cursor_time(cursor: str) -> float | None:
    """The realtime (epoch seconds) written in a cursor (``…;t=5a3f…;…``), None if it has none."""
    m = _REALTIME_IN_CURSOR.search(cursor)
    return int(m.group(1), 16) / 1e6 if m else None


class JournalFollower:
    def __init__(self, cfg: JournalInput, key: str, *, log: Log, clock: Callable[[], float] = time.time) -> None:
        self.cfg = cfg
        self.key = key
        self.label = f"journal {cfg.path}" if cfg.path else "journal"
        self._log = log
        self._clock = clock
        self._origin = Origin(key, "journal")
        self._reader: Any = None
        self._fd: int | None = None
        self._start_mark = JournalMark(None)  # where this run started reading
        self._committed = JournalMark(None)
        self._last_cursor: str | None = None  # of the last entry handed out
        self._since_open = 0  # entries read since the reader was opened
        self._names: frozenset[str] | None = None  # the directory's journal files, when only some are open
        self._listed = 0.0  # when they were last listed (monotonic)
        self._caught_up = False  # the last poll found nothing new

    # -- the Follower protocol ----------------------------------------------------------------
    def open(self, saved: dict[str, Any] | None) -> list[Polled]:
        self._open_reader()
        if native_reader() is None:
            self._log("shipper: the journal is read in Python, about half as fast: shipper's C reader was not built "
                      "(installing shipper needs gcc, libsystemd-dev and the Python headers for it)")
        if not NATIVE:
            self._log("shipper: journal entries become documents in Python, about a quarter slower in all: shipper's "
                      "C builder was not built (installing shipper needs gcc and the Python headers for it)")
        out: list[Polled] = []
        mark = saved.get("mark") if saved else None
        if isinstance(mark, dict) and mark.get("cursor"):
            self._committed = JournalMark(str(mark["cursor"]), mark.get("time"))
            self._resume(self._committed, out)
        else:
            self._start()
        self._start_mark = self._committed
        return out

    def poll(self, now: float) -> list[Polled]:
        if self._last_cursor is not None and (self._since_open >= REOPEN_ENTRIES or self._files_changed()):
            self._reopen(self._last_cursor)
        reader = self._reader
        reader.process()  # reset the descriptor's readiness; notice rotated and new files
        errors: list[str] = []
        entries = read_entries(reader, errors, chunk=POLL_ENTRIES)
        items, _ = next(entries, ([], None))
        entries.close()
        self._caught_up = not items and not errors
        if self._caught_up:
            return []
        cursor = items[-1].get("__CURSOR") if items else None
        if isinstance(cursor, str):
            self._since_open += len(items)
            self._last_cursor = cursor
        tags: dict[int, tuple[str, ...]] = {}
        for message in errors:
            tags[len(items)] = (TAG_UNPARSED, TAG_READ_ERROR)
            items.append({"MESSAGE": message})
        return [RawChunk(self._origin, "fields", items, tags=tags, checkpoint=self._start_mark, progress=len(items))]

    def fds(self) -> list[int]:
        return [self._fd] if self._fd is not None else []

    def commit(self, source_id: str, checkpoint: object) -> None:
        if isinstance(checkpoint, JournalMark) and checkpoint.cursor is not None:
            self._committed = checkpoint

    def state(self) -> dict[str, Any]:
        return {"mark": {"cursor": self._committed.cursor, "time": self._committed.time}}

    def backlog(self) -> int | None:
        return None

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
            self._fd = None

    # -- position -----------------------------------------------------------------------------------
    def _open_reader(self, after: str | None = None) -> None:
        """A reader over the local journal or the directory; with ``after`` (a cursor), over only
        the directory's files that can hold entries after it (see `needed_files`)."""
        journal = journal_module()
        self._names, paths = None, None
        if self.cfg.path is not None and after is not None:
            listed = needed_files(self.cfg.path, after)
            if listed is not None:
                (self._names, paths), self._listed = listed, time.monotonic()
        if paths:
            assert self.cfg.path is not None and self._names is not None
            try:
                self._reader = journal._Reader(0, None, paths)
                # A rotation while opening: the file written to may be open under its new name
                # only, and its end missed. Safer to take the whole directory this time.
                if _journal_names(self.cfg.path) != self._names:
                    raise FileNotFoundError
            except (OSError, ValueError):  # also a file gone between listing and opening
                self.close()
                self._names, paths = None, None
        if not paths:
            if self.cfg.path is not None:
                self._reader = journal._Reader(0, str(self.cfg.path))
            else:
                self._reader = journal._Reader(journal.LOCAL_ONLY)
        self._fd = self._reader.fileno()
        self._add_filters()
        self._since_open = 0

    def _files_changed(self) -> bool:
        """Only some files are open, and the directory's journal files changed since they were
        listed (looked at every `LIST_EVERY` seconds, and after a poll that found nothing new)."""
        now = time.monotonic()
        if self._names is None or self.cfg.path is None or (now - self._listed < LIST_EVERY and not self._caught_up):
            return False
        self._listed = now
        try:
            return _journal_names(self.cfg.path) != self._names
        except OSError:
            return True

    def _reopen(self, cursor: str) -> None:
        """A fresh reader (its file mappings released), after the entry ``cursor``."""
        self.close()
        self._open_reader(after=cursor)
        place_after(self._reader, cursor)  # gone meanwhile (vacuumed just now): from its place

    def _add_filters(self) -> None:
        reader = self._reader
        terms = [[f"{name}={unit}" for unit in self.cfg.units] for name in UNIT_FIELDS if self.cfg.units]
        if self.cfg.identifiers:
            terms.append([f"SYSLOG_IDENTIFIER={ident}" for ident in self.cfg.identifiers])
        for i, term in enumerate(terms):
            if i:
                reader.add_disjunction()
            for match in term:
                reader.add_match(match.encode())
        if self.cfg.priority is not None:
            if terms:
                reader.add_conjunction()
            for level in range(self.cfg.priority + 1):
                reader.add_match(f"PRIORITY={level}".encode())

    def _start(self) -> None:
        """The very first run: head, tail (after the newest entry) or a time."""
        reader, start = self._reader, self.cfg.start
        if start == "head":
            reader.seek_head()
        elif start == "tail":
            reader.seek_tail()
            if reader._previous():  # on the newest entry: start after it, and remember it now
                self._committed = JournalMark(reader._get_cursor(), iso(reader._get_realtime() / 1e6))
        else:
            since = datetime.fromisoformat(start.replace("Z", "+00:00"))
            if since.tzinfo is None:
                since = since.replace(tzinfo=timezone.utc)
            reader.seek_realtime(int(since.timestamp() * 1_000_000))

    def _resume(self, mark: JournalMark, out: list[Polled]) -> None:
        reader = self._reader
        assert mark.cursor is not None
        try:
            reader.seek_cursor(mark.cursor)
            if reader._next() and reader.test_cursor(mark.cursor):
                return  # on the checkpoint's entry: reading goes on after it
        except (OSError, ValueError):
            pass  # a cursor sd_journal cannot even parse: treat it as gone
        shipped = cursor_time(mark.cursor)
        oldest = self._oldest()
        if oldest is not None and shipped is not None and oldest <= shipped:
            # Entries of that time are still there (the cursor's file was replaced, or the filters
            # changed): go on from that time; what was shipped already is recognised by its id.
            self._log(f"shipper: journal position {mark.cursor} not found; going on from {iso(shipped)}")
            reader.seek_realtime(int(shipped * 1_000_000))
            return
        reader.seek_head()
        since = mark.time or (iso(shipped) if shipped is not None else "an unknown time")
        until = iso(oldest) if oldest is not None else iso(self._clock())
        where = f"the journal in {self.cfg.path}" if self.cfg.path else "the journal"
        out.append(Gap(shipped, oldest if oldest is not None else self._clock(), (
            f"{where} no longer holds the last entry shipper shipped ({since}): it was vacuumed or rotated away "
            f"while shipper was not running. Entries between {since} and {until} may be missing; reading "
            "resumes at the oldest entry. Keep the journal longer (SystemMaxUse=, MaxRetentionSec= in "
            "journald.conf) or keep shipper running")))

    def _oldest(self) -> float | None:
        """The realtime of the oldest entry (matching the filters), None for an empty journal."""
        reader = self._reader
        reader.seek_head()
        if not reader._next():
            return None
        return float(reader._get_realtime()) / 1e6


def needed_files(directory: Path, cursor: str) -> tuple[frozenset[str], list[str]] | None:
    """The names of the journal files in ``directory``, and the paths of those that reading after
    ``cursor`` can still need: all but the archived files of the cursor's sequence-number space
    whose last entry comes before the cursor's (sd_journal orders such entries by that number).
    None when sd_journal should take the whole directory: subdirectories (journald's machine-id
    directories), or a cursor without a sequence number."""
    number = cursor_number(cursor)
    if number is None:
        return None
    names: list[str] = []
    paths: list[str] = []
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.is_dir():
                return None
            if entry.name.endswith(JOURNAL_SUFFIXES):
                names.append(entry.name)
                if not _archived_before(entry.path, *number):
                    paths.append(entry.path)
    return frozenset(names), paths


def _journal_names(directory: Path) -> frozenset[str]:
    return frozenset(name for name in os.listdir(directory) if name.endswith(JOURNAL_SUFFIXES))


def _archived_before(path: str, seqnum_id: str, seqnum: int) -> bool:
    """The file is archived (it will not grow) and all its entries come before ``seqnum``."""
    header = read_header(path)
    return header is not None and header.archived and header.seqnum_id == seqnum_id and header.tail_seqnum < seqnum
