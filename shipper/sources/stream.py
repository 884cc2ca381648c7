"""One input as a stream of decompressed bytes that never raises while reading.

`InputStream` opens a file (or takes stdin), recognises compression by content, counts the bytes
taken from the file as it is on disk (the progress figure), and can `peek` at the start of the
decompressed data for format sniffing without consuming it. A damaged archive or a failing disk
ends the stream early: `read` then returns ``b""`` and `failure` says what broke and where, so a
source can hand on everything read before the break and report the break itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import IO, Callable

from shipper.errors import InputError
from shipper.sources.base import Format, Origin
from shipper.sources.compression import (
    CHECK_COMMAND,
    MAGIC_BYTES,
    READ_ERRORS,
    Compression,
    Readable,
    detect_compression,
    open_decompressed,
)


@dataclass(frozen=True, slots=True)
class ReadFailure:
    """Where a stream broke: ``offset`` in the decompressed data, ``raw_offset`` in the file."""

    name: str
    reason: str
    offset: int
    raw_offset: int
    raw_size: int | None
    compression: Compression | None
    fix: str | None = None  # what the operator can do, when it is not the usual advice

    def message(self) -> str:
        where = f"at byte {self.offset}"
        if self.fix is not None:
            fix = self.fix
        elif self.compression:
            size = f" of {self.raw_size}" if self.raw_size is not None else ""
            where += f" of the decompressed data (compressed input read up to byte {self.raw_offset}{size})"
            fix = (
                f"the {self.compression} archive is truncated or corrupt; check it with "
                f"`{CHECK_COMMAND[self.compression]} {self.name}`"
            )
        else:
            fix = "the file could not be read to its end; check the disk and the file"
        return (
            f"shipper: read error in {self.name} {where}: {self.reason}. "
            f"Everything before this point was read; {fix}."
        )


class _Counting:
    """A raw stream that replays ``prefix`` first and counts the bytes handed out."""

    def __init__(self, raw: IO[bytes], prefix: bytes = b"") -> None:
        self._raw = raw
        self._prefix = prefix
        self.consumed = 0

    def read(self, size: int = -1, /) -> bytes:
        if self._prefix:
            if size < 0 or size >= len(self._prefix):
                data, self._prefix = self._prefix, b""
                if size < 0 or len(data) < size:
                    data += self._raw.read(-1 if size < 0 else size - len(data))
            else:
                data, self._prefix = self._prefix[:size], self._prefix[size:]
        else:
            data = self._raw.read(size)
        self.consumed += len(data)
        return data


class InputStream:
    """Decompressed bytes of one input. Use `open_path` or `from_stream`."""

    def __init__(self, name: str, raw: IO[bytes], size: int | None, *, owns: bool) -> None:
        self.name = name
        self.size = size
        self._raw = raw
        self._owns = owns
        self.failure: ReadFailure | None = None
        self.offset = 0  # decompressed bytes handed out so far
        self._peeked = b""
        head = self._raw_head()
        self.compression = detect_compression(head)
        self._counting = _Counting(raw, head)
        self._decompressed = None if self.compression is None else open_decompressed(self._counting, self.compression)
        self._stream: Readable = self._decompressed or self._counting

    @classmethod
    def open_path(cls, path: str) -> InputStream:
        """Open a file; `InputError` (path, OS reason, fix) when it cannot be opened."""
        try:
            raw = open(path, "rb")  # noqa: SIM115 - closed by close()
            size = os.fstat(raw.fileno()).st_size
        except OSError as exc:
            raise input_error(path, exc) from None
        return cls(path, raw, size, owns=True)

    @classmethod
    def open_fd(cls, path: str, fd: int, *, closefd: bool = True) -> InputStream:
        """A file already open as ``fd``, read from its start; `close` closes the descriptor
        too unless ``closefd`` is False."""
        raw = os.fdopen(fd, "rb", closefd=closefd)
        raw.seek(0)
        return cls(path, raw, os.fstat(fd).st_size, owns=True)

    @classmethod
    def from_stream(cls, name: str, raw: IO[bytes]) -> InputStream:
        """Wrap an already open stream (stdin); it is not closed by `close`."""
        return cls(name, raw, None, owns=False)

    @property
    def consumed(self) -> int:
        """Bytes taken from the input as it is on disk (compressed bytes for an archive)."""
        return self._counting.consumed

    def peek(self, size: int) -> bytes:
        """Up to ``size`` bytes from the start of the decompressed data, without consuming them."""
        while len(self._peeked) < size and self.failure is None:
            data = self._read_stream(size - len(self._peeked))
            if not data:
                break
            self._peeked += data
        return self._peeked[:size]

    def read(self, size: int) -> bytes:
        """At most about ``size`` decompressed bytes; ``b""`` at the end or after a failure."""
        if self._peeked:
            data, self._peeked = self._peeked[:size], self._peeked[size:]
        else:
            data = self._read_stream(size)
        self.offset += len(data)
        return data

    def close(self) -> None:
        try:
            if self._decompressed is not None:
                self._decompressed.close()
        finally:
            if self._owns:
                self._raw.close()

    def _read_stream(self, size: int) -> bytes:
        if self.failure is not None:
            return b""
        try:
            data = self._stream.read(size)
        except READ_ERRORS as exc:
            self._fail(str(exc) or type(exc).__name__)
            return b""
        if not data and self.size is not None and self.consumed < self.size:
            self._fail(f"the file ended at byte {self.consumed} of the {self.size} it had when it was opened: it was "
                       "truncated while it was read (logrotate's copytruncate does that)",
                       fix="what was cut is not in this replay; replay the copy that was made before the truncation "
                       "(e.g. the .1 file) too")
        return data

    def _fail(self, reason: str, fix: str | None = None) -> None:
        self.failure = ReadFailure(
            self.name, reason, self.offset + len(self._peeked), self.consumed, self.size, self.compression, fix
        )

    def _raw_head(self) -> bytes:
        try:
            return self._raw.read(MAGIC_BYTES)
        except OSError as exc:
            raise input_error(self.name, exc) from None


def input_error(path: str, exc: OSError) -> InputError:
    """The operator-facing error for a path that cannot be opened or read."""
    reason = exc.strerror or str(exc)
    if isinstance(exc, FileNotFoundError):
        hint = "check the path; a rotated log may have been renamed or removed"
    elif isinstance(exc, PermissionError):
        hint = "run as a user that may read it (e.g. a member of group adm), or copy the file"
    elif isinstance(exc, IsADirectoryError):
        hint = "pass the directory itself or a file inside it"
    else:
        hint = "check that the path names a readable file"
    return InputError(f"cannot read {path}: {reason}", hint=hint)


class StreamSource:
    """What every source read from one `InputStream` shares: the stream is opened (by
    ``open_stream``) when reading starts, ``total`` is the size on disk, ``close`` closes it."""

    def __init__(
        self,
        source_id: str,
        fmt: Format,
        open_stream: Callable[[], InputStream],
        *,
        path: str | None,
        size: int | None,
        mtime: float | None,
        max_line_bytes: int = 65536,
    ) -> None:
        self.source_id = source_id
        self.origin = Origin(source_id, fmt, path=path, mtime=mtime)
        self._open = open_stream
        self._size = size
        self._cap = max_line_bytes
        self._stream: InputStream | None = None

    def total(self) -> int | None:
        return self._size

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None
