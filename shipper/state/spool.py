"""The disk buffer: a first-in first-out queue of records in ``<state_dir>/spool/``, bounded in bytes.

When the output cannot keep up (Elasticsearch down), batches go here instead of piling up in
memory; when it is `full`, the daemon stops reading (the journal and the files keep the data). The
files never take more than ``max_bytes``: a record that would go over waits in memory, and so does
every record after it (first in, first out), until the reader has taken the records before it; the
buffer is `full` meanwhile. What waits so is what the daemon read in the turn that filled the buffer
(reading stops then), or one record larger than the whole bound, which goes through all the same.
At `close`, what waits in memory is written to the files past the bound (it says why). Records are
appended to segment files (``000000000042.seg``) as ``length, crc32, payload``;
a segment is deleted once it has been read and its records released. One thread appends, another
reads.

A record stays in the files until the reader `release`s it (`take`: the daemon's output acknowledged
its batch), so a crash loses none handed out but not delivered; where the next start begins reading
(after the records released in order) is kept in ``read.json`` there (`sync`, `close`). The
daemon counts a batch in the files as safe as one acknowledged (its checkpoint moves, its lines are
not read again from the inputs: `shipper.daemon.ledger`), once `sync` made it durable. What a
previous run left here is handed out again (data from files deleted meanwhile is not lost); a
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

import orjson

from shipper.errors import OutputError
from shipper.state.atomic import fsync_path, write_atomic

DIRNAME = "spool"
SEGMENT_BYTES = 16 << 20
_HEADER = struct.Struct("<II")  # payload length, crc32 of the payload
_SUFFIX = ".seg"
READ_FILE = "read.json"  # where the next start begins reading (`_resume`)


class Spool:
    def __init__(self, directory: Path, max_bytes: int, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.dir = directory
        self.max_bytes = max_bytes
        self._segment_bytes = max(64 * 1024, min(segment_bytes, max_bytes // 8))
        self._lock = threading.Lock()
        self._wseg: int | None = None  # segment being appended to
        self._wfd: int | None = None
        self._rseg: int | None = None  # segment being read (or read last), and where
        self._rfd: int | None = None
        self._roff = 0
        self._waiting: deque[bytes] = deque()  # records that did not fit under max_bytes: after those on disk
        self._handed: deque[list[int]] = deque()  # [ticket, segment, end, released] of records taken, in order
        self._tickets = 0
        self._read: tuple[int, int] | None = None  # after the records released in order (segment, offset)
        self._saved_read: tuple[int, int] | None = None  # ... as ``read.json`` says
        self._unsynced: set[int] = set()  # segments appended to since the last `sync`
        self._closed = False
        try:
            directory.mkdir(exist_ok=True)  # in the state directory, which is not made here (`shipper.state.atomic`)
            self._segments = sorted(int(p.stem) for p in directory.glob(f"*{_SUFFIX}") if p.stem.isdigit())
            self._sizes = {n: self._path(n).stat().st_size for n in self._segments}
            self._resume()
        except OSError as exc:
            raise self._error("cannot use the disk buffer in", exc) from None
        # (numbers are not used again: ``read.json`` may name one deleted since)
        self._last = max(self._segments + [self._saved_read[0] if self._saved_read else 0])

    def _resume(self) -> None:
        """Start reading where the previous run's reader had released everything before (``read.json``);
        the segments before it are deleted. Without it, or when it names no segment left, from the first."""
        try:
            saved = orjson.loads((self.dir / READ_FILE).read_bytes())
            segment, offset = int(saved["segment"]), int(saved["offset"])
        except (FileNotFoundError, ValueError, TypeError, KeyError):
            return
        self._saved_read = self._read = (segment, offset)  # (kept until the buffer is empty: `_sync`)
        if segment not in self._sizes or not 0 <= offset <= self._sizes[segment]:
            return
        for number in [n for n in self._segments if n < segment]:
            self._forget(number)
        self._rfd = os.open(self._path(segment), os.O_RDONLY | os.O_CLOEXEC)
        self._rseg, self._roff = segment, offset

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
            rseg = self._rseg if self._rseg is not None else -1
            unread = sum(size for n, size in self._sizes.items() if n >= rseg)
            if rseg in self._sizes:
                unread -= self._roff
            return unread <= 0 and not self._waiting

    # -- writing ------------------------------------------------------------------------------------
    def put(self, payload: bytes) -> bool:
        """Append a record (not empty): to the files (True), or in memory (False) when it would take
        them over ``max_bytes`` or records wait there already; an `OutputError` when the disk does
        not take all of it, and then the buffer is as it was."""
        if not payload:
            raise ValueError("a disk buffer record cannot be empty")  # zeros left by a crash read as one
        with self._lock:
            if self._waiting or sum(self._sizes.values()) + _HEADER.size + len(payload) > self.max_bytes:
                self._waiting.append(payload)
                return False
            self._append(payload)
            return True

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
        self._unsynced.add(self._wseg)

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
        number = self._last + 1
        try:
            fd = os.open(self._path(number), os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise self._error("cannot add a file to the disk buffer in", exc) from None
        if self._wfd is not None:
            os.close(self._wfd)
        self._wfd = fd
        self._wseg = self._last = number
        self._segments.append(number)
        self._sizes[number] = 0

    # -- reading ------------------------------------------------------------------------------------
    def get(self) -> bytes | None:
        """The oldest record not handed out yet, released at once (`take`); None when there is none."""
        taken = self.take()
        if taken is None:
            return None
        if taken[1] is not None:
            self.release(taken[1])
        return taken[0]

    def take(self) -> tuple[bytes, int | None] | None:
        """The oldest record not handed out yet, and its ticket for `release` (None: a record that
        waited in memory, which is not in the files); None when there is none; an `OutputError` when
        the buffer cannot be read. A record taken stays in the files until it is released."""
        with self._lock:
            if self._closed:
                return None
            try:
                record = self._next()
            except OSError as exc:
                raise self._error("cannot read the disk buffer in", exc) from None
            if record is None:
                return (self._waiting.popleft(), None) if self._waiting else None
            assert self._rseg is not None
            self._tickets += 1
            self._handed.append([self._tickets, self._rseg, self._roff, 0])
            return record, self._tickets

    def release(self, ticket: int) -> None:
        """The record taken with ``ticket`` is delivered: once those before it are too, it leaves the
        files (its segment is deleted once every record of it is), and the next start reads after it."""
        with self._lock:
            if self._closed:
                return  # (a courier let go of at a reload: the next session's buffer reads these files)
            for entry in self._handed:
                if entry[0] == ticket:
                    entry[3] = 1
                    break
            while self._handed and self._handed[0][3]:
                _, segment, end, _ = self._handed.popleft()
                self._read = (segment, end)
            self._trim()

    def _next(self) -> bytes | None:
        while True:
            if self._rfd is None:
                following = [n for n in self._segments if self._rseg is None or n > self._rseg]
                if not following:
                    return None
                self._open_reader(following[0])
            record = self._read_record()
            if record is not None:
                return record
            if self._rseg == self._wseg:
                self._trim()
                return None  # caught up with the writer
            self._close_reader()
            self._trim()

    def _trim(self) -> None:
        """Delete the segments read to their end whose records are all released (the writer's, read
        to its end, too: the next record starts a new one, so that an empty buffer takes no disk)."""
        held = self._handed[0][1] if self._handed else None
        rseg = self._rseg
        if rseg is not None and rseg == self._wseg and held != rseg and self._roff >= self._sizes[rseg]:
            self._seal()
            self._close_reader()
        for number in list(self._segments):
            if rseg is None or number > rseg or number == held or (number == rseg and self._rfd is not None):
                break
            self._forget(number)

    def _open_reader(self, number: int) -> None:
        self._close_reader()
        self._rfd = os.open(self._path(number), os.O_RDONLY | os.O_CLOEXEC)
        self._rseg, self._roff = number, 0

    def _close_reader(self) -> None:
        """Close the segment read (``_rseg`` still says which it was: the next is after it)."""
        if self._rfd is not None:
            os.close(self._rfd)
        self._rfd = None

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

    def _forget(self, number: int) -> None:
        """Forget a segment, then delete its file."""
        self._segments.remove(number)
        del self._sizes[number]
        self._unsynced.discard(number)
        self._path(number).unlink(missing_ok=True)

    # -- durability ---------------------------------------------------------------------------------
    def sync(self) -> None:
        """Make the records appended so far durable (before a checkpoint counts them), and say where
        the next start begins reading; an `OutputError` when the disk refuses."""
        with self._lock:
            if not self._closed:
                self._sync()

    def _sync(self) -> None:
        try:
            for number in sorted(self._unsynced):
                try:
                    fsync_path(self._path(number))
                except FileNotFoundError:
                    pass  # (lost: the reader says so when it gets there)
            if self._unsynced:  # (new segments' names too)
                fsync_path(self.dir, directory=True)
        except OSError as exc:
            raise self._error("cannot sync the disk buffer in", exc) from None
        self._unsynced.clear()
        if not self._segments and self._saved_read is not None:  # (no segment left for it to name)
            (self.dir / READ_FILE).unlink(missing_ok=True)
            self._read = self._saved_read = None
        elif self._segments and self._read is not None and self._read != self._saved_read:
            segment, offset = self._read
            write_atomic(self.dir / READ_FILE, orjson.dumps({"segment": segment, "offset": offset}))
            self._saved_read = self._read

    def close(self, keep: bool = True) -> None:
        """Close the files; ``keep``: first write the records waiting in memory to them, past
        ``max_bytes``, and `sync` (an `OutputError` when the disk does not take them; the files are
        closed all the same). False: the state directory is gone, nothing is written there.

        Why past the bound rather than leave them to the inputs: the inputs may no longer hold them
        at the next start (a file rotated out of the input's paths, a journal vacuumed while shipper
        was stopped), and they would be lost, where what is on disk is not. What goes over is a few
        MiB (what the turn that filled the buffer read, the batches handed on at the stop, the
        daemon's memory queue: at most ``run.queue_events``), next to a bound of a GiB by default,
        and the next start reads nothing more until the buffer is under its bound again (`full`).

        Once closed, it hands out nothing more, and releases nothing: a courier still at work after a
        reload (an output that cannot let go, `shipper.daemon.switch.give_back`) ends once its sink
        returns, and what it had taken is read again by the next session's buffer."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                while keep and self._waiting:
                    self._append(self._waiting[0])
                    self._waiting.popleft()
                if keep:
                    self._sync()
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
