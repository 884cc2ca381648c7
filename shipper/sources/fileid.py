"""Recognising a log file's content wherever it goes: a fingerprint of its first bytes.

Rotation moves content between names (``maillog`` -> ``maillog.1``), copies it (copytruncate),
compresses it (``maillog.1`` -> ``maillog.1.gz``, a new inode). The device and inode say which
file is which while it is not copied; the fingerprint (a hash of the first `FP_BYTES` bytes of the
*decompressed* content) says which content a new file holds. A file shorter than `FP_BYTES` is
fingerprinted over what it has; the fingerprint is widened as the file grows.

A leading run of NUL bytes is not part of the first bytes: a writer without O_APPEND leaves one
(a hole) after a copytruncate, and every such content would have the same fingerprint. The first
bytes are those after the run (`Head.at` says where they start); a file of NULs only has none yet.
Files that start with text are fingerprinted as before.
"""

from __future__ import annotations

import errno
import hashlib
import os
from dataclasses import dataclass
from typing import Callable

from shipper.errors import InputError
from shipper.sources.compression import MAGIC_BYTES, detect_compression
from shipper.sources.stream import InputStream

FP_BYTES = 1024
_TAIL_WINDOW = 64 * 1024
_NUL_BLOCK = 1 << 20  # a run of NULs written out (a copy of a hole) is skipped this much at a time


@dataclass(frozen=True, slots=True)
class Head:
    data: bytes  # the first bytes of the content after its leading NULs (at most FP_BYTES), decompressed
    compressed: bool
    at: int = 0  # the offset of ``data``: the length of the leading run of NULs (0 without data)


def fingerprint(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def head_matches(head: bytes, fp: str, fp_len: int) -> bool:
    """Whether content starting with ``head`` is the content fingerprinted as ``fp`` over
    ``fp_len`` bytes (never for an empty fingerprint: every empty file would match)."""
    return 0 < fp_len <= len(head) and fingerprint(head[:fp_len]) == fp


def read_head(path: str) -> Head:
    """The first bytes of a file's content; `InputError` when it cannot be read."""
    try:
        with open(path, "rb", buffering=0) as f:
            if detect_compression(f.read(MAGIC_BYTES)) is None:
                return head_of(f.fileno())
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    stream = InputStream.open_path(path)
    try:
        at, data = _after_nuls(stream.read, 0)
        return Head(data, True, at)
    finally:
        stream.close()


def head_of(fd: int) -> Head:
    """The first bytes of an open plain file (as `read_head`). A leading hole (read as NULs) is
    jumped over without reading it; a file that is nothing but a hole has no first bytes."""
    try:
        pos = os.lseek(fd, 0, os.SEEK_DATA)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            return Head(b"", False)
        pos = 0  # (holes unknown to the file system: its NULs are read)

    def read(n: int) -> bytes:
        nonlocal pos
        data = os.pread(fd, n, pos)
        pos += len(data)
        return data

    at, data = _after_nuls(read, pos)
    return Head(data, False, at)


def _after_nuls(read: Callable[[int], bytes], at: int) -> tuple[int, bytes]:
    """Read past a run of NULs starting at offset ``at``: where it ends, and up to `FP_BYTES`
    bytes from there (none when the content is NULs up to its end)."""
    size = FP_BYTES  # (most files have no NUL run: read no more than their first bytes)
    while True:
        block = read(size)
        if not block:
            return at, b""
        data = block.lstrip(b"\0")
        at += len(block) - len(data)
        if data:
            break
        size = _NUL_BLOCK
    data = data[:FP_BYTES]
    while len(data) < FP_BYTES and (more := read(FP_BYTES - len(data))):
        data += more
    return at, data


def line_start_before(fd: int, end: int) -> int:
    """The offset just after the last newline before ``end`` (where a whole line starts), so
    that starting at the end of a file never begins in the middle of a line."""
    start = max(0, end - _TAIL_WINDOW)
    data = os.pread(fd, end - start, start)
    nl = data.rfind(b"\n")
    return start + nl + 1 if nl >= 0 else (end if start > 0 else 0)
