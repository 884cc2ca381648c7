"""Compressed inputs, recognised by their content (magic bytes), never by their name.

`open_decompressed` wraps a binary stream in a streaming decompressor: stdlib gzip (concatenated
members work), bz2 (multi-stream), lzma (xz), and `zstandard` for zstd (several frames work; a
truncated frame is reported, which ``zstandard``'s own stream reader does not do).
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import zlib
from collections import deque
from typing import IO, Literal, Protocol, cast

import zstandard

Compression = Literal["gzip", "bzip2", "xz", "zstd"]

MAGIC: tuple[tuple[bytes, Compression], ...] = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)
MAGIC_BYTES = 6  # enough bytes to recognise every format above

# What a decompressor raises on a truncated or corrupt archive (and what a failing disk raises).
READ_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    EOFError,
    zlib.error,
    lzma.LZMAError,
    zstandard.ZstdError,
)

# The command that checks an archive, for error messages.
CHECK_COMMAND: dict[Compression, str] = {"gzip": "gzip -t", "bzip2": "bzip2 -t", "xz": "xz -t", "zstd": "zstd -t"}


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class Decompressed(Readable, Protocol):
    def close(self) -> None: ...


def detect_compression(head: bytes) -> Compression | None:
    """The compression of a stream starting with ``head`` (at least `MAGIC_BYTES` bytes when the
    stream is that long), or None for uncompressed data."""
    for magic, kind in MAGIC:
        if head.startswith(magic):
            return kind
    return None


def open_decompressed(raw: Readable, kind: Compression) -> Decompressed:
    """A stream of the decompressed bytes of ``raw``. Its ``read(n)`` returns at most ``n``
    bytes and raises one of `READ_ERRORS` when the archive is damaged."""
    fileobj = cast(IO[bytes], raw)  # the stdlib decompressors only call read() on it
    if kind == "gzip":
        return _OneStep(gzip.GzipFile(fileobj=fileobj, mode="rb"))
    if kind == "bzip2":
        return _OneStep(bz2.BZ2File(fileobj, mode="rb"))
    if kind == "xz":
        return _OneStep(lzma.LZMAFile(fileobj, mode="rb"))
    return ZstdReader(raw)


class _OneStep:
    """``read`` is the file's ``read1``: one decompression step per call. A plain ``read(n)``
    loops until it has n bytes and, when the archive breaks on the way, drops what it had
    already decompressed in that call."""

    def __init__(self, f: gzip.GzipFile | bz2.BZ2File | lzma.LZMAFile) -> None:
        self._f = f

    def read(self, size: int = -1, /) -> bytes:
        return self._f.read1(size)

    def close(self) -> None:
        self._f.close()


class ZstdReader:
    """Reads every zstd frame of ``raw`` one after the other and raises `EOFError` when the input
    ends inside a frame. Input is fed in small pieces so one call never inflates more than
    ``FEED`` compressed bytes at once (bounded memory even for very compressible logs)."""

    FEED = 16 * 1024
    INPUT = 256 * 1024

    def __init__(self, raw: Readable) -> None:
        self._raw = raw
        self._dctx = zstandard.ZstdDecompressor()
        self._obj = self._dctx.decompressobj()
        self._in_frame = False
        self._out: deque[bytes] = deque()
        self._pending = b""  # compressed bytes read but not yet fed

    def read(self, size: int = -1, /) -> bytes:
        while not self._out:
            if not self._fill():
                return b""
        piece = self._out.popleft()
        if 0 <= size < len(piece):
            self._out.appendleft(piece[size:])
            piece = piece[:size]
        return piece

    def _fill(self) -> bool:
        """Decompress one piece of input; False at the end of the input."""
        if not self._pending:
            self._pending = self._raw.read(self.INPUT)
            if not self._pending:
                if self._in_frame:
                    raise EOFError("Compressed file ended before the end-of-stream marker was reached")
                return False
        data, self._pending = self._pending[: self.FEED], self._pending[self.FEED :]
        while data:
            if self._obj.eof:
                self._obj = self._dctx.decompressobj()
            out = self._obj.decompress(data)
            if out:
                self._out.append(out)
            self._in_frame = not self._obj.eof
            data = self._obj.unused_data if self._obj.eof else b""
        return True

    def close(self) -> None:
        self._out.clear()
