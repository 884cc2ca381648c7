"""Following log files matched by glob patterns, through rotation, truncation and compression.

Every ``scan_interval`` the patterns are matched again (`shipper.sources.tailmatch`). Each file's
*content* is a stream (`Tracked`), recognised by device+inode while it stays in place and by the
fingerprint of its first bytes when it moves into a new inode (`shipper.sources.fileid`):

* rotation by rename (``maillog`` -> ``maillog.1``, new ``maillog``): the old inode is read to its
  end through the descriptor already open, then closed after ``close_after`` seconds idle; the new
  file is a new stream. In each poll older streams are read first.
* copytruncate: the file shrinks (or its first bytes change). If a copy of the content (same
  fingerprint) is among the matched files (or among another input's: `shipper.sources.claims`),
  reading goes on in the copy from where it was; the file itself is a new stream from offset 0.
  Without a copy, a `Gap` says what may be lost. A copytruncate while shipper was not running (or
  just before it was killed) is found by the scan at the start, which looks for a copy likewise.
* compression afterwards (``maillog.1`` -> ``maillog.1.gz``): recognised by fingerprint and never
  read again, unless the plain file vanished before it was read to its end: then the rest is read
  from the archive, at the same (decompressed) offset. An archive modified in the last
  `ARCHIVE_SETTLE` seconds may still be being written: it is recognised at once (its content is
  not forgotten meanwhile), but read only once it has settled. Its lines' year (RFC 3164 stamps
  have none) comes from its mtime, as a plain file's.
* a file that vanished while shipper was not running, not read to its end: a `Gap`.
* a file another file input of the daemon reads too (overlapping globs, a symlink, a hard link):
  read by one of them only (`shipper.sources.claims`); the other says so once and skips it. A file
  of this input's that its patterns no longer match (renamed, the link it was read through removed)
  but another input's do is read on under that name (`Tracked.elsewhere`): followed while its name
  is a live file's, else read to its end as a rotated file; the other input then takes it as read.

A poll reads `READ_BYTES` of each file, and stops after the file that made it read `READ_BYTES` in
all: with many files, one poll is one read's worth, not one per file (the daemon decides between
polls whether to read on: its memory queue and disk buffer are bounded, `shipper.daemon.pacing`).
The next poll begins with the file after the one it stopped at, so every file gets its turn.

Reading one file's content on (a plain file as it grows, an archive, an idle or finished file) is
`shipper.sources.tailread`'s. Lines become chunks as in `shipper.sources.files`; see `tailfile`
for partial lines.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from shipper.config.model import FileInput
from shipper.errors import ConfigError, InputError
from shipper.sources.claimant import Claimant
from shipper.sources.claims import ARCHIVE_SETTLE, Claims
from shipper.sources.fileid import line_start_before, read_head, fingerprint
from shipper.sources.leftover import Left
from shipper.sources.live import End, Gap, Log, Polled, TextMark
from shipper.sources.tailfile import READ_BYTES, Tracked
from shipper.sources.tailmatch import Found, matched
from shipper.sources.tailread import TailReader

CLOSE_AFTER = 30.0  # a rotated file idle this long is finished


class FileFollower:
    def __init__(
        self, cfg: FileInput, key: str, *, max_line_bytes: int, log: Log, close_after: float = CLOSE_AFTER,
        clock: Callable[[], float] = time.time, own: Sequence[Path] = (), claims: Claims | None = None,
    ) -> None:
        """``own``: the files the daemon writes (`Sink.files`), never followed even where the
        patterns match them: every line read from them would be written to them again.
        ``claims``: shared by the daemon's file inputs, so that each file is read by one of them."""
        self.cfg = cfg
        self._own = own
        self._clock = clock
        self.key = key
        self.label = ", ".join(cfg.paths)
        self._log = log
        self._streams: list[Tracked] = []  # oldest first
        self._handed: list[tuple[str, str, int]] = []  # (`handed_streams`)
        self._next_scan = 0.0
        self._turn = 0  # the stream (by its place among those not finished) the next poll begins with
        self._first_run = False
        self._claimed = False  # the files its checkpoint holds are claimed (`claim`)
        self._warned: set[str] = set()
        # Named counts: files skipped because another input reads them; NUL bytes dropped before lines.
        self.counters: Counter[str] = Counter()
        label = f"{cfg.name} ({self.label})" if cfg.name else self.label
        self._claimant = (Claimant(claims, key, label, self.label, self.counters, self._warn, self._read_on)
                          if claims else None)
        if claims is not None:
            claims.register(key, label, self._match, self._wake, float(cfg.scan_interval))
        self._reader = TailReader(cfg, key, cap=max_line_bytes, close_after=close_after, warn=self._warn,
                                  counters=self.counters, hold=self._hold, rescan=self._scan)

    def claim(self, saved: dict[str, Any] | None) -> None:
        """The files the checkpoint ``saved`` holds are this input's again, before any input's
        `open` matches its patterns (`shipper.sources.claims`); `open` does it if not done before."""
        if self._claimant is not None:
            self._claimant.restore(_saved_streams(saved, self.label), (saved or {}).get("finished"))
        self._claimed = True

    def check(self, saved: dict[str, Any] | None) -> None:
        """A `ConfigError` when the checkpoint ``saved`` cannot be taken as `open` takes it (a file
        entry damaged): a reload asks before the running session ends (`Session.check_checkpoints`)."""
        _saved_streams(saved, self.label)

    def inherit(self, states: Mapping[str, dict[str, Any]]) -> None:
        """The checkpoints of file inputs no longer configured (by key), after every file input's
        `claim` (the claims are shared: once for all): a file of theirs that this input or another
        takes is read on from where they left it (`Claimant.leave`)."""
        if self._claimant is not None:
            self._claimant.leave(states)

    def handed_streams(self) -> list[tuple[str, str, int]]:
        """The streams of other checkpoints' files this input reads on since the last call (removed
        inputs', or a rival's: `_read_on`): (their stream id there, here, the offset the output acknowledged)."""
        handed, self._handed = self._handed, []
        return handed

    def handed_over(self) -> dict[str, set[tuple[int, int]]]:
        """The files of those checkpoints (by key) that file inputs took since the last call (the
        claims are shared: any input answers for all): those checkpoints are to drop them."""
        return self._claimant.handed_over() if self._claimant is not None else {}

    # -- the Follower protocol ----------------------------------------------------------------
    def open(self, saved: dict[str, Any] | None) -> list[Polled]:
        if not self._claimed:
            self.claim(saved)
        self._first_run = saved is None
        self._streams = _saved_streams(saved, self.label)
        out: list[Polled] = []
        self._scan(self._clock(), out)
        self._first_run = False
        return out

    def poll(self, now: float) -> list[Polled]:
        out: list[Polled] = []
        if now >= self._next_scan:
            self._scan(now, out)
        streams = [t for t in self._streams if not (t.done or t.ended)]
        first, self._turn, read = self._turn % max(1, len(streams)), 0, 0
        for i, t in enumerate(streams[first:] + streams[:first]):
            before = t.read
            self._reader.read(t, now, out)
            read += max(0, t.read - before)
            if read >= READ_BYTES:  # one read's worth: the rest wait for the next poll
                self._turn = first + i + 1
                break
        return out

    def fds(self) -> list[int]:
        return []

    def commit(self, source_id: str, checkpoint: object) -> None:
        t = self._by_sid(source_id)
        if t is None or not isinstance(checkpoint, TextMark):
            return
        t.committed, t.shipped = checkpoint.resume, max(t.shipped, checkpoint.shipped)
        if checkpoint.done:
            t.done = True
            if not t.copies and not t.present:
                self._streams.remove(t)
                self._hold()

    def state(self) -> dict[str, Any]:
        finished = self._claimant.finished_json() if self._claimant is not None else []
        return {"files": [t.to_json() for t in self._streams], **({"finished": finished} if finished else {})}

    def backlog(self) -> int | None:
        return sum(max(0, t.disk - t.read) for t in self._streams if t.fd is not None)

    def close(self) -> None:
        for t in self._streams:
            t.close()

    # -- matching files -------------------------------------------------------------------------
    def _by_sid(self, source_id: str) -> Tracked | None:
        key = source_id.rpartition("/")[2]
        return next((t for t in self._streams if t.key == key), None)

    def _match(self) -> Found:
        return matched(self.cfg, self._own, self.label, self._warn)

    def _wake(self) -> None:
        self._next_scan = 0.0  # another input found a file this one is to read: match at the next poll

    def _scan(self, now: float, out: list[Polled]) -> None:
        self._next_scan = now + float(self.cfg.scan_interval)
        found = self._match()
        if self._claimant is not None:
            self._claimant.settle(self._streams)
        self._lose(found)
        lost = [(t, t.path) for t in self._streams if t.lost is not None and not t.busy]
        if self._claimant is not None:
            self._streams += self._claimant.keep_out(found, now, bool(lost))
        by_ident = {t.ident: t for t in self._streams if t.ident is not None}
        rest: list[tuple[tuple[int, int], str, os.stat_result]] = []
        for t in self._streams:
            t.present = False
        for ident, (path, st) in found.items():  # first the files known by inode
            known = by_ident.get(ident)
            if known is not None:
                known.present, known.path, known.disk = True, path, st.st_size
            else:
                rest.append((ident, path, st))
        copy_of = {(c[0], c[1]): t for t in self._streams for c in t.copies}
        for ident, path, st in rest:  # then copies and new files
            owner = copy_of.get(ident)
            if owner is None or not (owner.busy or owner.archive is not None):
                self._discover(ident, path, st, now, out)
        for t, path in lost:
            if t.busy:  # (a copy found: read on there)
                t.lost = None
                self._log(f"shipper: {path} was truncated; reading the rest of its old content from {t.path}")
        for t in self._streams:
            t.copies = [c for c in t.copies if (c[0], c[1]) in found]
        if self._claimant is not None:
            self._claimant.relocate(self._streams)
        self._forget(now, out)
        self._hold()

    def _hold(self) -> None:
        if self._claimant is not None:
            self._claimant.hold(self._streams)

    def _lose(self, found: Found) -> None:
        """Known inodes that now hold other content (a new file in a reused inode; or truncated,
        or rewritten, while not open: a copytruncate just before a restart): what was not read to
        its end is lost there (`Tracked.lost`), and looked for in a copy at this very scan, as
        when the reader finds its file truncated (`TailReader._replaced`)."""
        for t in self._streams:
            where = found.get(t.ident) if t.ident is not None else None
            if where is not None and not self._still_same(t, *where):
                t.dev = t.ino = None
                # (under another name, its own gone: a removed file whose inode a new file reuses;
                # what it lost, if anything, is told as for any removed file: `_vanished`)
                reused = where[0] != t.path and not os.path.lexists(t.path)
                t.lost = None if t.done or reused else "truncated or rewritten"

    def _still_same(self, t: Tracked, path: str, st: os.stat_result) -> bool:
        """A known inode still holds the known content (not an inode reused by a new file)."""
        if t.fd is not None or st.st_size == t.disk or t.fp_len == 0:
            return True
        try:
            return t.holds(read_head(path))
        except InputError:
            return True

    def _discover(self, ident: tuple[int, int], path: str, st: os.stat_result, now: float, out: list[Polled]) -> None:
        if st.st_size == 0:
            return  # nothing to recognise it by yet: found again once it has data
        try:
            head = read_head(path)
        except InputError as exc:
            self._warn(path, f"shipper: {exc}; skipping it until it can be read")
            return
        if not head.data:
            return  # NULs only so far (a hole a writer will write after): found again once it has text
        settling = head.compressed and now - st.st_mtime < ARCHIVE_SETTLE  # maybe still being compressed
        owner = next((t for t in self._streams if t.holds(head)), None)
        if owner is not None and not (head.compressed or owner.busy or st.st_size >= owner.shipped):
            owner = None  # (shorter than what was shipped of that content: a new file that begins as it did)
        if owner is not None:
            if self._claimant is not None and owner.fd is None:  # (not being read: where it is read from may move on)
                self._claimant.catch_up(owner, ident, head)
            self._adopt(owner, ident, path, head.compressed, st.st_size, settling)
            return
        if settling:
            return  # look again at the next scan
        fp = fingerprint(head.data)
        t = Tracked(key=f"{ident[1]:x}-{fp[:12]}", fp=fp, fp_len=len(head.data), fp_at=head.at, path=path,
                    first_path=path, dev=ident[0], ino=ident[1], updated=now, present=True, disk=st.st_size)
        left = self._claimant.left(ident, head) if self._claimant is not None else None
        if left is not None:  # read by an input no longer configured: on from where it was acknowledged
            self._read_on(t, left)
        elif self._first_run and self.cfg.start == "tail":
            t.done = head.compressed  # history: not read when starting at the end
            t.read = t.seen = t.committed = t.shipped = 0 if t.done else self._tail_offset(path, st.st_size)
        if head.compressed:
            t.dev = t.ino = None
            t.present = False
            t.copies = [list(ident)]
            t.archive = None if t.done else path
        self._streams.append(t)

    def _read_on(self, t: Tracked, left: Left) -> None:
        """Read ``t`` on as another checkpoint left its file (`Left`: a removed input's, or a rival's,
        `Claimant.settle`, `Claimant.catch_up`): from where that one resumes reading (its lines of the last seconds read
        again, not shipped again: the next lines get the ids a replay gives them), with how far its
        output acknowledged and its linking fence (`handed_streams`)."""
        t.read = t.seen = t.committed = min(left.resume, left.offset)
        t.shipped, t.done = left.offset, left.done
        if not left.done:
            self._handed.append((f"{left.key}/{left.stream}", self._reader.sid(t), left.offset))

    def _adopt(
        self, owner: Tracked, ident: tuple[int, int], path: str, compressed: bool, size: int, settling: bool,
    ) -> None:
        """A file holding ``owner``'s content: a copy to skip, or where to read the rest from. An
        archive still ``settling`` is only a copy for now: that keeps ``owner`` (`_forget`), so that
        the archive is known for its content, and read from where ``owner`` was once it settles."""
        if owner.busy or owner.archive is not None or compressed:
            if list(ident) not in owner.copies:
                owner.copies.append(list(ident))
        if owner.busy or owner.archive is not None or settling:
            return
        if compressed:
            owner.archive = owner.path = path
        else:
            owner.dev, owner.ino, owner.path, owner.present, owner.disk = ident[0], ident[1], path, True, size

    def _forget(self, now: float, out: list[Polled]) -> None:
        """Drop what is gone for good; report content that vanished before it was read."""
        for t in list(self._streams):
            if t.present or t.fd is not None or t.archive is not None or t.ended or t.copies or t.elsewhere:
                continue
            self._streams.remove(t)
            if t.done:
                continue
            out.append(End(self._reader.sid(t), None))  # (also when not read in this run: the daemon forgets it too)
            if t.lost is not None:
                out.append(Gap(t.updated or None, now, (
                    f"{t.path} was {t.lost} (copytruncate?) after shipper had shipped {t.shipped:,} bytes of it; lines "
                    "written to it after that and before the truncation may be missing: no copy of the old content "
                    f"is among the input's files. Match the rotated copies too (e.g. {t.first_path}*) to read them")))
            elif t.shipped < t.held:
                out.append(Gap(t.updated or None, now, _vanished(t)))

    def _tail_offset(self, path: str, size: int) -> int:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return 0
        try:
            return line_start_before(fd, size)
        finally:
            os.close(fd)

    def _warn(self, path: str, message: str) -> None:
        if path not in self._warned:
            self._warned.add(path)
            self._log(message)


def _saved_streams(saved: dict[str, Any] | None, label: str) -> list[Tracked]:
    """The content streams of a saved checkpoint (of the input reading ``label``)."""
    try:
        streams = [Tracked.from_json(d) for d in (saved or {}).get("files", [])]
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ConfigError(f"the checkpoint of the input reading {label} is damaged (a file entry lacks a field or "
                          "holds a wrong value: edited by hand?)",
                          hint="move that input's file in STATE_DIR/checkpoints/ away to start it afresh: the events "
                               "it already shipped are recognised by id and not stored twice") from None
    for t in streams:
        t.copies = [] if not t.done else t.copies  # copies of unfinished content are looked at again
    return streams


def _vanished(t: Tracked) -> str:
    """What was lost with a file removed or replaced before all of it was shipped: from how far the
    output acknowledged (or the disk buffer took) to the file's end at the last look, read or not."""
    held = t.held
    return (f"{t.path} was removed or replaced before shipper shipped all of it: the {held - t.shipped:,} bytes "
            f"after byte {t.shipped:,} (of {held:,}) were not shipped and are lost (after a crash or a kill -9, the "
            "output may have taken some of them in the second before it: the checkpoint is saved once a second). Keep "
            f"rotated files matched by the input's paths (e.g. {t.first_path}*) so that they can be read")
