"""Recognising a log file's content wherever it goes: a fingerprint of its first bytes.

Rotation moves content between names (``maillog`` -> ``maillog.1``), copies it (copytruncate),
compresses it (``maillog.1`` -> ``maillog.1.gz``, a new inode). The device and inode say which
file is which while it is not copied; the fingerprint (a hash of the first `FP_BYTES` bytes of the
*decompressed* content) says which content a new file holds. A file shorter than `FP_BYTES` is
fingerprinted over what it has; the fingerprint is widened as the file grows.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from shipper.errors import InputError
from shipper.sources.compression import MAGIC_BYTES, detect_compression
from shipper.sources.stream import InputStream

FP_BYTES = 1024
_TAIL_WINDOW = 64 * 1024


@dataclass(frozen=True, slots=True)
class Head:
    data: bytes  # the first bytes of the content (at most FP_BYTES), decompressed
    compressed: bool


def fingerprint(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def head_matches(head: bytes, fp: str, fp_len: int) -> bool:
    """Whether content starting with ``head`` is the content fingerprinted as ``fp`` over
    ``fp_len`` bytes (never for an empty fingerprint: every empty file would match)."""
    return 0 < fp_len <= len(head) and fingerprint(head[:fp_len]) == fp


def read_head(path: str) -> Head:
    """The first bytes of a file's content; `InputError` when it cannot be read."""
    try:
        with open(path, "rb") as f:
            magic = f.read(MAGIC_BYTES)
            if detect_compression(magic) is None:
                return Head(magic + f.read(FP_BYTES - len(magic)), False)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    stream = InputStream.open_path(path)
    try:
        return Head(stream.peek(FP_BYTES), True)
    finally:
        stream.close()


def pread_head(fd: int, size: int) -> bytes:
    """The first ``size`` bytes of an open plain file."""
    return os.pread(fd, size, 0)


def line_start_before(fd: int, end: int) -> int:
    """The offset just after the last newline before ``end`` (where a whole line starts), so
    that starting at the end of a file never begins in the middle of a line."""
    start = max(0, end - _TAIL_WINDOW)
    data = os.pread(fd, end - start, start)
    nl = data.rfind(b"\n")
    return start + nl + 1 if nl >= 0 else (end if start > 0 else 0)
