"""Following the journal: the local system journal, or a directory of journal files, as it grows.

Read through ``sd_journal`` (systemd-python's low-level reader, as `shipper.sources.journal`), not a
``journalctl`` subprocess. The input's journal files (a directory's, or the local journal's in
/run/log/journal and /var/log/journal: `shipper.sources.journal_dir`) are listed every
`LIST_EVERY` seconds, and after a poll that found nothing new (a rotation looks like that: the
files end, the new one is not read yet): files are added by rotation and by new writers, deleted
by vacuuming. The readers have no descriptor to wake the daemon: it polls (every 0.1 s when idle).
Each writer of entries (journald, one host's systemd-journal-remote: a
sequence-number id) is read by its own reader, from its own position (`shipper.sources.journal_writer`
says why), as its own stream: source id ``<input key>/<seqnum_id>``. A writer whose files are all
gone, read to their end and acknowledged, is forgotten, with an `End` of its stream.

Filters: ``units`` match ``_SYSTEMD_UNIT=`` (the unit's own processes) and also ``UNIT=``,
``OBJECT_SYSTEMD_UNIT=`` and ``COREDUMP_UNIT=`` (what PID 1, and others, write *about* the unit:
"Main process exited", "Failed with result"); ``identifiers`` match ``SYSLOG_IDENTIFIER=``; an
entry matching either is shipped. ``priority`` keeps entries of that priority or more severe.

Position: each writer resumes after its checkpoint's cursor; when that entry and the ones after it
are gone (vacuumed while shipper was not running), reading resumes at the writer's oldest entry and
a `Gap` says which time span may be missing. The configured ``start`` applies to the writers found
at the very first start; a writer found later (its files appeared after the start) is read from its
first entry (from the configured time, if ``start`` is one): so ``tail`` on an empty journal reads
all that comes. A journal directory that is not there (yet, or any more) is waited for, as a file
input waits for its files; files deleted while they are read (vacuumed, or the whole directory
removed) are read to their end first, and a file deleted before it could be read is a `Gap`.

Ids: in a second that two boots of one host both wrote (a machine without a real-time clock), the
entries of the boot that did not take it first are marked to have their boot in their id's key
(`shipper.sources.journal_boots`): each writer's stream counts only its own twins.

Checkpoint: ``{"writers": {seqnum_id: {cursor, time, shipped, settled}}, "mark": {...}, "boots":
{host: [[first second, last second, boot id], ...]}}`` (``boots``: `BootClaims.state`); ``mark``
is the position of the writer read least far (for `shipper status`, and for earlier versions of
shipper, which kept that one cursor: such a checkpoint is read as the position of that cursor's
writer, the others starting at its time).
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from typing import Any

from shipper.config.model import JournalInput
from shipper.event import TAG_READ_ERROR, TAG_UNPARSED
from shipper.parse.journal_fields import NATIVE
from shipper.sources.base import Origin, RawChunk
from shipper.sources.export import Fields
from shipper.sources.journal_boots import BootClaims
from shipper.sources.journal_dir import JournalFiles, Listed, Pins
from shipper.sources.journal_entries import damaged_tags, native_reader
from shipper.sources.journal_header import cursor_number, cursor_time, undated_time
from shipper.sources.journal_writer import Saved, Start, Writer, shipped_time
from shipper.sources.live import End, Gap, JournalMark, Log, Polled, iso

# Entries read per poll. The daemon takes what one poll returns through every stage (parsing, ids,
# recognition, encoding) before the next poll, so a small chunk keeps its documents in the CPU's
# caches from stage to stage: 256 rather than 2,000 cost about a quarter less CPU an entry.
POLL_ENTRIES = 256
# Seconds between listings of the journal files while reading keeps finding entries.
LIST_EVERY = 0.5


class JournalFollower:
    def __init__(self, cfg: JournalInput, key: str, *, log: Log, files: JournalFiles | None = None) -> None:
        """``files``: where the journal files are (by default: ``cfg.path``, or the local journal's)."""
        self.cfg = cfg
        self.key = key
        self.label = f"journal {cfg.path}" if cfg.path else "journal"
        self._where = f"the journal in {cfg.path}" if cfg.path else "the journal"
        self._log = log
        self._files = files or JournalFiles(cfg.path)
        self._pins = Pins()
        self._writers: dict[str, Writer] = {}  # seqnum_id -> writer
        self._by_sid: dict[str, Writer] = {}
        self._saved: dict[str, Saved] = {}  # positions of writers not listed yet in this run
        self._boots = BootClaims()  # which boot took each second of a host (for the ids)
        self._start: Start = "head"  # where a writer listed for the first time starts
        # ... once the first start is past: its files appeared since (a time start still applies)
        first = start_at(cfg.start)
        self._later: Start = first if isinstance(first, float) else "head"
        self._listed = float("-inf")  # when the files were last listed (monotonic)
        self._caught_up = True  # the last poll (if any) found nothing new
        self._missing = False  # no journal directory to list: said once
        self._said: set[str] = set()  # files that cannot be read: said once each

    # -- the Follower protocol ----------------------------------------------------------------
    def open(self, saved: dict[str, Any] | None) -> list[Polled]:
        if native_reader() is None:
            self._log("shipper: the journal is read in Python, about half as fast: shipper's C reader was not built "
                      "(installing shipper needs gcc, libsystemd-dev and the Python headers for it)")
        if not NATIVE:
            self._log("shipper: journal entries become documents in Python, about a quarter slower in all: shipper's "
                      "C builder was not built (installing shipper needs gcc and the Python headers for it)")
        self._saved, self._start = positions(saved, self.cfg.start)
        self._boots = BootClaims(saved.get("boots") if saved else None)
        out: list[Polled] = []
        if not self._list(out):
            self._start = self._later  # what the journal holds once it is there came after the start
        return out

    def poll(self, now: float) -> list[Polled]:
        out: list[Polled] = []
        if self._caught_up or time.monotonic() - self._listed >= LIST_EVERY:
            self._list(out)
        left = POLL_ENTRIES
        caught_up = True
        for writer in sorted(self._writers.values(), key=lambda w: w.last_time):  # the one read least far first
            if not left:
                caught_up = False
                break
            errors: list[str] = []
            items = writer.read(left, errors)
            out += writer.take_gaps()
            caught_up = caught_up and writer.caught_up
            if items or errors:
                left = max(0, left - len(items))
                out.append(self._chunk(writer, items, errors))
        self._caught_up = caught_up
        return out

    def fds(self) -> list[int]:
        return []  # readers over held files have no descriptor to wake on: the daemon polls (0.1 s when idle)

    def commit(self, source_id: str, checkpoint: object) -> None:
        writer = self._by_sid.get(source_id)
        if writer is not None and isinstance(checkpoint, JournalMark):
            writer.commit(checkpoint)

    def state(self) -> dict[str, Any]:
        saved = {**self._saved, **{i: w.saved() for i, w in self._writers.items()}}
        marks = [s.mark for s in saved.values() if s.mark.cursor]
        least = min(marks, key=lambda m: m.time or "", default=JournalMark(None))
        return {"writers": {i: _to_json(s) for i, s in saved.items()},
                "mark": {"cursor": least.cursor, "time": least.time}, "boots": self._boots.state()}

    def backlog(self) -> int | None:
        return None

    def close(self) -> None:
        for writer in self._writers.values():
            writer.release()
        self._writers.clear()
        self._by_sid.clear()
        self._pins.close()

    # -- files ----------------------------------------------------------------------------------
    def _list(self, out: list[Polled]) -> bool:
        """List the journal files and give each writer its own; False when there is no directory."""
        self._listed = time.monotonic()
        listed, problems = self._files.listing()
        for problem in problems:
            if problem not in self._said:
                self._said.add(problem)
                self._log(f"shipper: {self.label}: {problem}; skipping it until it can be read")
        if listed is None:
            if not self._missing:
                self._missing = True
                self._log(f"shipper: {self.label}: {self._files.describe()} is not there; waiting for it "
                          "(what was read from it before is kept, what it holds when it is there again is read)")
            return False
        if self._missing:
            self._missing = False
            self._log(f"shipper: {self.label}: {self._files.describe()} is there; reading it")
        groups: dict[str, list[Listed]] = {}
        for f in listed:
            groups.setdefault(f.header.seqnum_id, []).append(f)
        for seqnum_id, writer in list(self._writers.items()):
            writer.update(groups.pop(seqnum_id, []))
            out += writer.take_gaps()
            if writer.gone():  # (read and acknowledged: the daemon forgets it too, and saves that)
                writer.release()
                del self._writers[seqnum_id], self._by_sid[writer.origin.source_id]
                out.append(End(writer.origin.source_id, None))
        for seqnum_id, files in groups.items():
            out += self._new_writer(seqnum_id, files)
        out += [self._vanished(i, saved.mark) for i, saved in self._saved.items() if not saved.settled]
        self._saved.clear()
        self._start = self._later
        return True

    def _new_writer(self, seqnum_id: str, files: list[Listed]) -> list[Polled]:
        saved = self._saved.pop(seqnum_id, None)
        # ``mtime``: the time of a read error before any entry is read: the last shipped's, else `undated_time`
        since = shipped_time(saved.mark) if saved is not None else None
        if since is None:
            since = undated_time([(f.header, _mtime(f.path)) for f in files])
        origin = Origin(f"{self.key}/{seqnum_id}", "journal", mtime=since)
        writer = Writer(seqnum_id, origin, self.cfg, self._pins, self._where)
        self._writers[seqnum_id] = self._by_sid[writer.origin.source_id] = writer
        writer.update(files)
        writer.place(saved, self._start)
        return list(writer.take_gaps())

    def _vanished(self, seqnum_id: str, mark: JournalMark) -> Gap:
        """The gap of a writer whose files were all deleted while shipper was not running."""
        since = shipped_time(mark)
        since_text = iso(since) if since is not None else "an unknown time"
        return Gap(since, None, (
            f"{self._where} no longer holds the files of one of its writers (sequence-number id {seqnum_id}): they "
            "were vacuumed or deleted while shipper was not running. The entries it wrote after the last one shipper "
            f"shipped from it ({since_text}) may be missing. Keep the journal longer (SystemMaxUse=, MaxRetentionSec= "
            "in journald.conf) or keep shipper running"))

    def _chunk(self, writer: Writer, items: list[Fields], errors: list[str]) -> RawChunk:
        tags = damaged_tags(items)  # (the read errors say how many: `journal_entries.incomplete_message`)
        self._boots.apart(items, tags)
        for message in errors:
            tags[len(items)] = (TAG_UNPARSED, TAG_READ_ERROR)
            items.append({"MESSAGE": message})
        return RawChunk(writer.origin, "fields", items, tags=tags, checkpoint=writer.start, progress=len(items))


def positions(saved: dict[str, Any] | None, start: str) -> tuple[dict[str, Saved], Start]:
    """The writers' saved positions, and where the writers without one start (``start`` at a first start)."""
    if saved is not None and isinstance(saved.get("writers"), dict):
        later = start_at(start)
        return ({str(i): _from_json(pos) for i, pos in saved["writers"].items() if isinstance(pos, dict)},
                later if isinstance(later, float) else "head")
    mark = saved.get("mark") if saved else None
    if isinstance(mark, dict) and mark.get("cursor"):  # one cursor for every writer (earlier versions)
        cursor = str(mark["cursor"])
        number, since = cursor_number(cursor), cursor_time(cursor)
        mine = {number[0]: Saved(JournalMark(cursor, mark.get("time")))} if number else {}
        return mine, (since if since is not None else "head")
    return {}, start_at(start)


def start_at(start: str) -> Start:
    """The configured ``start``: head, tail, or a time (epoch seconds; without a zone, UTC)."""
    if start in ("head", "tail"):
        return start
    at = datetime.fromisoformat(start.replace("Z", "+00:00"))
    return (at if at.tzinfo else at.replace(tzinfo=timezone.utc)).timestamp()


def _mtime(path: str) -> float | None:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


def _to_json(saved: Saved) -> dict[str, Any]:
    mark = saved.mark
    return {"cursor": mark.cursor, "time": mark.time, "shipped": mark.shipped, "settled": saved.settled}


def _from_json(pos: dict[str, Any]) -> Saved:
    def text(name: str) -> str | None:
        value = pos.get(name)
        return value if isinstance(value, str) and value else None

    return Saved(JournalMark(text("cursor"), text("time"), text("shipped")), pos.get("settled") is True)
