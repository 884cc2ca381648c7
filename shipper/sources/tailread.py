"""Reading one followed file's content (a `Tracked` stream), for `shipper.sources.tail`.

The follower decides which content each matched file holds (matching, rotation, copies); this
part reads one content stream on from where it was: its plain file as it grows (complete lines;
a last line without its newline once the file is idle for ``flush_after``), or its archive when
only a compressed copy is left. It reports an idle stream (`Idle`: what the parser holds may be
shipped), one read to its end for good (`End`: a rotated file idle for ``close_after``, or an
archive read through), and a plain file that lost the content read so far (copytruncate, a
rewrite): the follower matches the files again to find a copy to go on in.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Callable

from shipper.config.model import FileInput
from shipper.errors import InputError
from shipper.sources.claimant import rotated_name
from shipper.sources.live import End, Idle, Polled, TextMark
from shipper.sources.tailfile import (
    FOLLOWED_FORMATS,
    Tracked,
    open_archive,
    origin_of,
    plain_format,
    read_archive,
    read_plain,
    same_content,
    widen_fingerprint,
)

Warn = Callable[[str, str], None]  # (what it is about, said once: the message)
Rescan = Callable[[float, list[Polled]], None]  # match the input's files again now


class TailReader:
    def __init__(
        self, cfg: FileInput, key: str, *, cap: int, close_after: float, warn: Warn,
        counters: Counter[str], hold: Callable[[], None], rescan: Rescan,
    ) -> None:
        """``key``: the input's (stream ids are ``key/stream key``); ``cap``: the longest line kept;
        ``hold``: tells the claims which files the input reads (`Claimant.hold`) once one ended."""
        self.cfg = cfg
        self._key = key
        self._cap = cap
        self._close_after = close_after
        self._warn = warn
        self._counters = counters
        self._hold = hold
        self._rescan = rescan

    def sid(self, t: Tracked) -> str:
        return f"{self._key}/{t.key}"

    def read(self, t: Tracked, now: float, out: list[Polled]) -> None:
        """Read on in ``t`` (a bounded amount), what was read into ``out``."""
        self._read_some(t, now, out)
        if t.nul_runs:
            self._say_nuls(t)

    def _say_nuls(self, t: Tracked) -> None:
        """NUL runs dropped before lines (`shipper.sources.lines`): counted, and said once per content."""
        runs, t.nul_runs = t.nul_runs, []
        self._counters["nul_bytes_skipped"] += sum(n for _, n in runs)
        offset, n = runs[0]
        self._warn(f"nul:{t.key}", (
            f"shipper: {t.path}: dropped a run of {n:,} NUL bytes before the line at byte {offset:,} (the line is "
            "tagged nul_bytes_skipped). A writer that does not open the file in append mode leaves such a run after "
            "logrotate's copytruncate: open it with O_APPEND, or rotate with create instead of copytruncate"))

    def _read_some(self, t: Tracked, now: float, out: list[Polled]) -> None:
        if t.archive is not None:
            self._read_archive(t, out)
            return
        if t.fd is None and not self._open_plain(t):
            return
        assert t.fd is not None
        try:
            st = os.fstat(t.fd)
            if not same_content(t, st.st_size):
                self._replaced(t, now, out)
                return
            t.disk = st.st_size
            widen_fingerprint(t, st.st_size)
            if st.st_size > t.seen:
                self._grew(t, st, now, out)
            else:
                self._idle(t, st, now, out)
        except OSError as exc:
            self._warn(t.path, f"shipper: cannot read {t.path}: {exc.strerror}; trying again")

    def _open_plain(self, t: Tracked) -> bool:
        if not (t.present or t.elsewhere) or t.ident is None:
            return False
        try:
            fd = os.open(t.path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            self._warn(t.path, f"shipper: cannot open {t.path}: {exc.strerror}; "
                       "run shipper as a member of the group that may read it (e.g. adm)")
            return False
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != t.ident:  # replaced between the scan and now
            os.close(fd)
            return False
        t.fd = fd
        return True

    def _grew(self, t: Tracked, st: os.stat_result, now: float, out: list[Polled]) -> None:
        if t.fmt is None and not self._set_format(t, plain_format(t, self.cfg.format), st.st_mtime):
            return
        out += read_plain(t, st.st_size, final=False, cap=self._cap)
        t.size, t.updated, t.idle_sent = max(t.size, t.seen), now, False

    def _idle(self, t: Tracked, st: os.stat_result, now: float, out: list[Polled]) -> None:
        idle_for = now - t.updated
        if idle_for < float(self.cfg.flush_after):
            return
        if t.fmt is None and not self._set_format(t, plain_format(t, self.cfg.format), st.st_mtime):
            return  # (content read to its end before a restart: it has no format yet)
        if t.read < st.st_size:  # a last line that never got its newline
            out += read_plain(t, st.st_size, final=True, cap=self._cap)
        if not t.idle_sent:
            out.append(Idle(self.sid(t), t.read))
            t.idle_sent = True
        if t.elsewhere is not None:  # under a name only another input matches: followed while it is a live name
            rotated = rotated_name(t.path)
        else:
            rotated = not t.present or t.path != t.first_path or rotated_name(t.path)
        if rotated and idle_for >= self._close_after:
            self._end(t, out)

    def _end(self, t: Tracked, out: list[Polled]) -> None:
        t.close()
        t.ended = True
        self._hold()  # (read to its end: once let go of, other inputs take it as read)
        out.append(End(self.sid(t), TextMark(t.read, t.read, done=True)))

    def _replaced(self, t: Tracked, now: float, out: list[Polled]) -> None:
        """The plain file lost the content read so far (copytruncate, or rewritten in place):
        go on in a copy if one is matched; the file itself becomes a new stream at the next scan."""
        t.close()
        t.dev = t.ino = None
        t.present = False
        t.lost = "truncated or rewritten"
        self._rescan(now, out)  # (a copy found: it says so, and ``t`` reads on there)

    def _read_archive(self, t: Tracked, out: list[Polled]) -> None:
        try:
            if t.stream is None:
                mtime = open_archive(t, self.cfg.format, self._cap)
                if not self._set_format(t, t.fmt or "syslog", mtime):
                    return
            chunks, finished = read_archive(t)
        except InputError as exc:
            self._warn(t.path, f"shipper: {exc}")
            chunks, finished = [], True
        out += chunks
        t.size = max(t.size, t.read)
        if finished:
            self._end(t, out)

    def _set_format(self, t: Tracked, fmt: str, mtime: float | None) -> bool:
        if fmt not in FOLLOWED_FORMATS:
            self._warn(t.path, f"shipper: {t.path} looks like {fmt}, which a file input cannot follow; skipping it "
                       "(use a journal input with path: for journal files, `shipper replay` for dumps)")
            t.close()
            t.done = True
            return False
        t.fmt = fmt
        t.origin = origin_of(t, self.sid(t), mtime)
        return True
