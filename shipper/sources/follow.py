"""Following the journal: the local system journal, or a directory of journal files, as it grows.

Read through ``sd_journal`` (systemd-python's low-level reader, as `shipper.sources.journal`), not a
``journalctl`` subprocess. The reader's file descriptor (inotify) wakes the daemon when entries are
appended or files are added (journald and systemd-journal-remote rotate files).

Filters: ``units`` match ``_SYSTEMD_UNIT=`` (the unit's own processes) and also ``UNIT=``,
``OBJECT_SYSTEMD_UNIT=`` and ``COREDUMP_UNIT=`` (what PID 1, and others, write *about* the unit:
"Main process exited", "Failed with result"); ``identifiers`` match ``SYSLOG_IDENTIFIER=``; an
entry matching either is shipped. ``priority`` keeps entries of that priority or more severe.

Position: reading resumes after the checkpoint's cursor. ``seek_cursor`` followed by ``next``
lands *on* the cursor's entry when it still exists (`test_cursor` says whether it does), and that
entry is skipped. When it is gone (the journal was vacuumed while shipper was not running), reading
resumes at the oldest entry and a `Gap` says which time span may be missing.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from typing import Any, Callable

from shipper.config.model import JournalInput
from shipper.event import TAG_READ_ERROR, TAG_UNPARSED
from shipper.sources.base import Origin, RawChunk
from shipper.sources.journal import journal_module, read_entries
from shipper.sources.live import Gap, JournalMark, Log, Polled, iso

_REALTIME_IN_CURSOR = re.compile(r"(?:^|;)t=([0-9a-f]+)")
# sd_journal maps the files it reads and keeps the mappings: after a million entries they count
# hundreds of MB of resident memory (file pages). The reader is reopened at its position this often.
REOPEN_ENTRIES = 50_000
UNIT_FIELDS = ("_SYSTEMD_UNIT", "UNIT", "OBJECT_SYSTEMD_UNIT", "COREDUMP_UNIT")


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

    # -- the Follower protocol ----------------------------------------------------------------
    def open(self, saved: dict[str, Any] | None) -> list[Polled]:
        self._open_reader()
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
        if self._since_open >= REOPEN_ENTRIES and self._last_cursor is not None:
            self._reopen(self._last_cursor)
        reader = self._reader
        reader.process()  # reset the descriptor's readiness; notice rotated and new files
        errors: list[str] = []
        entries = read_entries(reader, errors)
        items, _ = next(entries, ([], None))
        entries.close()
        if not items and not errors:
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
    def _open_reader(self) -> None:
        journal = journal_module()
        if self.cfg.path is not None:
            self._reader = journal._Reader(0, str(self.cfg.path))
        else:
            self._reader = journal._Reader(journal.LOCAL_ONLY)
        self._fd = self._reader.fileno()
        self._add_filters()
        self._since_open = 0

    def _reopen(self, cursor: str) -> None:
        """A fresh reader (its file mappings released), after the entry ``cursor``."""
        self.close()
        self._open_reader()
        reader = self._reader
        reader.seek_cursor(cursor)
        if not (reader._next() and reader.test_cursor(cursor)):
            reader.seek_cursor(cursor)  # gone meanwhile (vacuumed just now): go on from its place

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
