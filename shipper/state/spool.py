"""The disk buffer: a first-in first-out queue of records in ``<state_dir>/spool/``, bounded in bytes.

When the output cannot keep up (Elasticsearch down), batches go here instead of piling up in
memory; when it is `full`, the daemon stops reading (the journal and the files keep the data). The
files never take more than ``max_bytes``: a record that would go over waits in memory, and so does
every record after it (first in, first out), until the reader has taken the records before it; the
buffer is `full` meanwhile. What waits so is what the daemon read in the turn that filled the buffer
(reading stops then), or one record larger than the whole bound, which goes through all the same.
At `close`, what waits in memory is written to the files past the bound (it says why). Records are
appended to segment files (``000000000042.seg``) as ``length, crc32, payload``;
a segment is deleted once it has been read. One thread appends, another reads.

The buffer is a speed-up, not the source of truth: checkpoints move only when the output has
acknowledged, so after a crash everything in the buffer is also read again from the inputs. What a
previous run left here is still handed out (data from files deleted meanwhile is not lost); a
record torn by a crash is detected by its length and checksum and skipped with the rest of its
segment.

A record is stored whole or not at all: when the disk takes only part of it (it filled up meanwhile),
`put` cuts the segment back to where the record began and raises an `OutputError`; the caller still
holds the record (its checkpoint did not move). So a torn record is only ever the last of a segment
(a crash while writing it, before `put` returned), and every record `put` accepted is read back.
"""

from __future__ import annotations

import errno
import os
import struct
import threading
import zlib
from collections import deque
from pathlib import Path

from shipper.errors import OutputError

DIRNAME = "spool"
SEGMENT_BYTES = 16 << 20
_HEADER = struct.Struct("<II")  # payload length, crc32 of the payload
_SUFFIX = ".seg"


class Spool:
    def __init__(self, directory: Path, max_bytes: int, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.dir = directory
        self.max_bytes = max_bytes
        self._segment_bytes = max(64 * 1024, min(segment_bytes, max_bytes // 8))
        self._lock = threading.Lock()
        try:
            directory.mkdir(exist_ok=True)  # in the state directory, which is not made here (`shipper.state.atomic`)
            self._segments = sorted(int(p.stem) for p in directory.glob(f"*{_SUFFIX}") if p.stem.isdigit())
            self._sizes = {n: self._path(n).stat().st_size for n in self._segments}
        except OSError as exc:
            raise self._error("cannot use the disk buffer in", exc) from None
        self._wseg: int | None = None  # segment being appended to
        self._wfd: int | None = None
        self._rseg: int | None = None  # segment being read, and where
        self._rfd: int | None = None
        self._roff = 0
        self._waiting: deque[bytes] = deque()  # records that did not fit under max_bytes: after those on disk
        self._closed = False

    # -- sizes ------------------------------------------------------------------------------------
    @property
    def size(self) -> int:
        """Bytes the buffer takes on disk (at most ``max_bytes``)."""
        with self._lock:
            return sum(self._sizes.values())

    @property
    def full(self) -> bool:
        """A record waits in memory, or the files take ``max_bytes``: stop reading."""
        with self._lock:
            return bool(self._waiting) or sum(self._sizes.values()) >= self.max_bytes

    @property
    def empty(self) -> bool:
        """Nothing is waiting to be read (a closed buffer hands out nothing more: `close`)."""
        with self._lock:
            if self._closed:
                return True
            unread = sum(self._sizes.values())
            if self._rseg is not None:
                unread -= self._roff
            return unread <= 0 and not self._waiting

    # -- writing ------------------------------------------------------------------------------------
    def put(self, payload: bytes) -> None:
        """Append a record (not empty): to the files, or in memory when it would take them over
        ``max_bytes`` or records wait there already; an `OutputError` when the disk does not take
        all of it, and then the buffer is as it was."""
        if not payload:
            raise ValueError("a disk buffer record cannot be empty")  # zeros left by a crash read as one
        with self._lock:
            if self._waiting or sum(self._sizes.values()) + _HEADER.size + len(payload) > self.max_bytes:
                self._waiting.append(payload)
                return
            self._append(payload)

    def _append(self, payload: bytes) -> None:
        """Write one record to the files (the lock held), whatever ``max_bytes`` says."""
        record = _HEADER.pack(len(payload), zlib.crc32(payload)) + payload
        if self._wfd is None or self._sizes[self._wseg or 0] + len(record) > self._segment_bytes:
            self._new_segment()
        assert self._wfd is not None and self._wseg is not None
        try:
            _write_all(self._wfd, record)
        except OSError as exc:
            self._cut_back(self._sizes[self._wseg])
            raise self._error("cannot write to the disk buffer in", exc) from None
        self._sizes[self._wseg] += len(record)

    def _cut_back(self, end: int) -> None:
        """Remove what a failed write left after ``end`` in the writer's segment. When even that
        fails, the segment takes no more records: the reader stops at ``end``, where `_sizes` ends it."""
        assert self._wfd is not None
        try:
            os.ftruncate(self._wfd, end)
        except OSError:
            self._seal()

    def _seal(self) -> None:
        """The writer's segment takes no more records: the next one starts a new segment."""
        if self._wfd is not None:
            os.close(self._wfd)
        self._wfd = self._wseg = None

    def _new_segment(self) -> None:
        """Start the next segment file; when it cannot be made, the buffer stays as it was."""
        number = (self._segments[-1] + 1) if self._segments else 1
        try:
            fd = os.open(self._path(number), os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise self._error("cannot add a file to the disk buffer in", exc) from None
        if self._wfd is not None:
            os.close(self._wfd)
        self._wfd = fd
        self._wseg = number
        self._segments.append(number)
        self._sizes[number] = 0

    # -- reading ------------------------------------------------------------------------------------
    def get(self) -> bytes | None:
        """The oldest record not handed out yet, None when there is none; an `OutputError` when the
        buffer cannot be read."""
        with self._lock:
            if self._closed:
                return None
            try:
                record = self._next()
            except OSError as exc:
                raise self._error("cannot read the disk buffer in", exc) from None
            if record is None and self._waiting:
                return self._waiting.popleft()
            return record

    def _next(self) -> bytes | None:
        while self._segments:
            if self._rseg != self._segments[0]:
                self._open_reader(self._segments[0])
            record = self._read_record()
            if record is not None:
                return record
            if self._rseg == self._wseg:
                self._restart_if_read()
                return None  # caught up with the writer
            self._drop_read_segment()
        return None

    def _restart_if_read(self) -> None:
        """The writer's segment is read to its end: remove it (the next record starts a new one),
        so that an empty buffer takes no disk."""
        assert self._rseg is not None
        if self._roff >= self._sizes[self._rseg] and self._wfd is not None:
            self._seal()
            self._drop_read_segment()

    def _open_reader(self, number: int) -> None:
        self._close_reader()
        self._rfd = os.open(self._path(number), os.O_RDONLY | os.O_CLOEXEC)
        self._rseg, self._roff = number, 0

    def _close_reader(self) -> None:
        if self._rfd is not None:
            os.close(self._rfd)
        self._rfd = self._rseg = None

    def _read_record(self) -> bytes | None:
        """The record at the read offset; None at the end of the segment or at a torn record."""
        assert self._rseg is not None
        size = self._sizes[self._rseg]
        if self._roff >= size:
            return None
        payload = self._intact(size)
        if payload is None:
            self._torn()
            return None
        self._roff += _HEADER.size + len(payload)
        return payload

    def _intact(self, size: int) -> bytes | None:
        """The payload of the record at the read offset, None when it is torn (cut short, or not
        the bytes its header says: a crash's zeros read as a record of none)."""
        assert self._rfd is not None
        header = os.pread(self._rfd, _HEADER.size, self._roff)
        if len(header) < _HEADER.size:
            return None
        length, crc = _HEADER.unpack(header)
        if not 0 < length <= size - self._roff - _HEADER.size:
            return None
        payload = os.pread(self._rfd, length, self._roff + _HEADER.size)
        return payload if len(payload) == length and zlib.crc32(payload) == crc else None

    def _torn(self) -> None:
        """A record cut by a crash (the last of a previous run's segment: `put` leaves none in this
        run's): skip the rest of the segment. Should the writer's segment hold one all the same (the
        disk gave back other bytes than it took), it is left too, rather than waited on for ever."""
        assert self._rseg is not None
        if self._rseg == self._wseg:
            self._seal()
        self._roff = self._sizes[self._rseg]

    def _drop_read_segment(self) -> None:
        """Forget the segment read to its end, then delete its file."""
        assert self._rseg is not None
        number = self._rseg
        self._close_reader()
        self._segments.remove(number)
        del self._sizes[number]
        self._path(number).unlink(missing_ok=True)

    def close(self, keep: bool = True) -> None:
        """Close the files; ``keep``: first write the records waiting in memory to them, past
        ``max_bytes`` (an `OutputError` when the disk does not take them; the files are closed
        all the same). False: the state directory is gone, nothing is written there.

        Why past the bound rather than leave them to the inputs (their checkpoints did not move, so
        a restart reads their lines again): the inputs may no longer hold them then (a file rotated
        out of the input's paths, a journal vacuumed while shipper was stopped), and they would be
        lost, where what is on disk is not. What goes over is a few MiB (what the turn that filled
        the buffer read, the batches handed on at the stop, the daemon's memory queue: at most
        ``run.queue_events``), next to a bound of a GiB by default, and the next start reads nothing
        more until the buffer is under its bound again (`full`).

        Once closed, it hands out nothing more: a courier still at work after a reload (an output
        that cannot let go, `shipper.daemon.switch.give_back`) ends once its sink returns, rather
        than read the files the next session's buffer reads."""
        with self._lock:
            self._closed = True
            try:
                while keep and self._waiting:
                    self._append(self._waiting[0])
                    self._waiting.popleft()
            finally:
                for fd in {self._wfd, self._rfd} - {None}:
                    assert fd is not None
                    os.close(fd)
                self._wfd = self._rfd = None
                self._wseg = self._rseg = None

    def _path(self, number: int) -> Path:
        return self.dir / f"{number:012d}{_SUFFIX}"

    def _error(self, doing: str, exc: OSError) -> OutputError:
        """What went wrong with the buffer's directory, and what to do about it."""
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            hint = "free space where the state directory is, or lower run.spool_max_bytes"
        elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            hint = "let the user shipper runs as write there (the state directory's owner and mode)"
        elif exc.errno == errno.ENOENT:
            hint = "was the state directory deleted while shipper was running? start shipper again: it makes the directory"
        else:
            hint = "check the disk and the state directory"
        return OutputError(f"{doing} {self.dir}: {exc.strerror}", hint=hint)


def _write_all(fd: int, data: bytes) -> None:
    """``os.write`` until all of ``data`` is written; a short write is followed by the next, which
    raises the disk's error (a full disk: ENOSPC)."""
    written = os.write(fd, data)
    while written < len(data):
        more = os.write(fd, memoryview(data)[written:])
        if more <= 0:
            raise OSError(errno.EIO, "the disk took no more of a record")
        written += more
