"""One followed file's content: where it lives now, how far it was read, and reading more of it.

A `Tracked` content stream is read from its plain file (``pread`` on an open descriptor, so a
rename does not disturb it) or, when only a compressed copy is left, from that archive (once, from
the decompressed offset reached). Lines are complete lines: a last line without its newline is
held back until it is completed, or shipped as it is once the file has been idle for
``flush_after`` (and the archive's last line is always complete).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from shipper.event import TAG_READ_ERROR, TAG_UNPARSED
from shipper.sources.base import Format, Origin, RawChunk
from shipper.sources.fileid import FP_BYTES, Head, fingerprint, head_matches, head_of
from shipper.sources.files import decode_lines, split_block
from shipper.sources.lines import LineBlock, iter_line_blocks
from shipper.sources.sniff import SNIFF_BYTES, sniff
from shipper.sources.stream import InputStream, input_error

READ_BYTES = 1 << 20  # read this much of one file per poll, and on to its line's end (bounded memory, fair turns)
# Lines per chunk: the daemon takes a chunk through every stage before the next, and a small one
# stays in the CPU's caches from stage to stage (as `follow.POLL_ENTRIES` for the journal).
POLL_LINES = 256
FOLLOWED_FORMATS = ("syslog", "elasticsearch")
SKIP_BLOCK = 1 << 20


@dataclass
class Tracked:
    key: str  # stable stream id (persisted)
    fp: str  # the fingerprint of its first bytes after a leading NUL run (`shipper.sources.fileid`)
    fp_len: int  # how many bytes it covers (0: none yet)
    path: str  # where the content is now (or was last seen)
    first_path: str  # where it was first seen: a different path now means it was rotated
    dev: int | None  # the plain file holding the content; None when there is none (archive only)
    ino: int | None
    committed: int = 0  # acknowledged: reading starts here again after a restart
    shipped: int = 0  # everything before this offset is acknowledged
    size: int = 0  # bytes of content seen so far
    updated: float = 0.0  # wall-clock time the content last grew
    done: bool = False  # read to its end for good (a rotated file): its copies are never read
    copies: list[list[int]] = field(default_factory=list)  # [dev, ino] of copies (archives) of it
    fp_at: int = 0  # where the fingerprinted bytes start: after the content's leading NULs (`Head.at`)
    disk_before: int = 0  # the plain file's size at the last look of an earlier run (saved as "disk")
    # At run time only:
    read: int = 0  # offset of the next byte to read
    fd: int | None = None
    archive: str | None = None  # read from this compressed copy (the plain file is gone)
    blocks: Iterator[LineBlock] | None = None
    stream: InputStream | None = None
    fmt: str | None = None
    origin: Origin | None = None
    present: bool = False  # the plain file was matched by the last scan
    elsewhere: str | None = None  # not matched, but another input's patterns match it: that input (read on here)
    seen: int = 0  # how far the file was looked at (read, or held back as an incomplete line)
    disk: int = 0  # the plain file's size at the last look (in this run: `disk_before` is an earlier one's)
    idle_sent: bool = True
    ended: bool = False  # `End` was reported: waiting to be acknowledged, then dropped
    lost: str | None = None  # how the plain file lost the content ("truncated or rewritten")
    nul_runs: list[tuple[int, int]] = field(default_factory=list)  # (offset, NUL bytes) dropped before lines, not said yet

    @property
    def ident(self) -> tuple[int, int] | None:
        return (self.dev, self.ino) if self.dev is not None and self.ino is not None else None

    def holds(self, head: Head) -> bool:
        """Whether a file whose first bytes are ``head`` holds this content."""
        return head_matches(head.data, self.fp, self.fp_len)

    @property
    def held(self) -> int:
        """How big the content was at the last look, in this run or an earlier one: what vanishes
        with the file, read or not."""
        return max(self.size, self.disk, self.disk_before)

    @property
    def busy(self) -> bool:
        """The content is being read from somewhere (or needs no more reading)."""
        return self.done or self.ended or self.fd is not None or self.archive is not None or self.present

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key, "path": self.path, "first_path": self.first_path, "dev": self.dev, "ino": self.ino,
            "fp": self.fp, "fp_len": self.fp_len, "offset": self.committed, "shipped": self.shipped,
            "size": self.size, "disk": max(self.disk, self.disk_before), "updated": self.updated, "done": self.done,
            "copies": self.copies,
            **({"fp_at": self.fp_at} if self.fp_at else {}),  # (a file starting with text: as before)
        }

    @classmethod
    def from_json(cls, d: object) -> Tracked:
        """A content stream saved by `to_json` (or by an earlier version: the fields it did not save
        take their defaults). `ValueError` for an entry that is not one (a hand edit): a field
        missing, or of a wrong type or range, would otherwise crash the daemon later or have it read
        from a wrong place or not at all."""
        if not isinstance(d, dict):
            raise ValueError(f"a file entry is {type(d).__name__}, not an object")
        path = _field(d, "path", _is_text)
        t = cls(
            key=_field(d, "key", _is_text), fp=_field(d, "fp", _is_fp), fp_len=_field(d, "fp_len", _is_fp_len),
            path=path, first_path=_field(d, "first_path", _is_text, path),
            dev=_field(d, "dev", _is_ident, None), ino=_field(d, "ino", _is_ident, None),
            committed=_field(d, "offset", _is_offset), shipped=_field(d, "shipped", _is_offset, 0),
            size=_field(d, "size", _is_offset, 0), disk_before=_field(d, "disk", _is_offset, 0),
            updated=float(_field(d, "updated", _is_time, 0.0)), done=_field(d, "done", _is_flag, False),
            copies=[list(c) for c in _field(d, "copies", _is_copies, [])], fp_at=_field(d, "fp_at", _is_offset, 0),
        )
        if not t.fp_at and t.fp == fingerprint(bytes(t.fp_len)):
            t.fp, t.fp_len = fingerprint(b""), 0  # NULs saved by an earlier version: taken again (`widen_fingerprint`)
        t.read = t.seen = t.committed
        return t

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self.stream is not None:
            self.stream.close()
            self.stream = None
        self.blocks = None


_REQUIRED = object()
_FP = re.compile(r"[0-9a-f]{32}")  # a `fingerprint` (16 bytes in hex)
_OFFSETS = 1 << 63  # offsets are off_t (signed 64 bits): ``pread`` takes no more
_IDENTS = 1 << 64  # st_dev, st_ino: unsigned 64 bits


def _field(d: dict[str, Any], name: str, valid: Callable[[object], bool], default: object = _REQUIRED) -> Any:
    """Field ``name`` of a saved file entry (``default`` when it has none), checked by ``valid``."""
    value = d.get(name, default)
    if value is _REQUIRED:
        raise ValueError(f"a file entry has no {name!r}")
    if not valid(value):
        raise ValueError(f"a file entry's {name!r} is {value!r}")
    return value


def _is_count(value: object, limit: int) -> bool:
    return type(value) is int and 0 <= value < limit  # (not a bool, nor a float: 12.7 is no offset)


def _is_offset(value: object) -> bool:
    return _is_count(value, _OFFSETS)


def _is_ident(value: object) -> bool:
    return value is None or _is_count(value, _IDENTS)  # (None: no plain file, an archive only)


def _is_copies(value: object) -> bool:
    return isinstance(value, list) and all(
        isinstance(c, list) and len(c) == 2 and all(_is_count(n, _IDENTS) for n in c) for c in value)


def _is_fp(value: object) -> bool:
    return isinstance(value, str) and _FP.fullmatch(value) is not None


def _is_fp_len(value: object) -> bool:
    return _is_count(value, FP_BYTES + 1)


def _is_text(value: object) -> bool:
    return isinstance(value, str) and value != ""


def _is_time(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < math.inf


def _is_flag(value: object) -> bool:
    return type(value) is bool


def open_path(t: Tracked) -> str | None:
    """Where the plain file open for ``t`` is now (renamed since), as the kernel tells; None when
    it is not open, or deleted."""
    if t.fd is None:
        return None
    try:
        path = os.readlink(f"/proc/self/fd/{t.fd}")
    except OSError:
        return None
    return path if path.startswith("/") and not path.endswith(" (deleted)") else None


def sniff_format(head: bytes, configured: str) -> str:
    return sniff(head) if configured == "auto" else configured


def plain_format(t: Tracked, configured: str) -> str:
    """The format of a plain file's content, sniffed from its first bytes."""
    assert t.fd is not None
    return sniff_format(os.pread(t.fd, SNIFF_BYTES, 0), configured)


def widen_fingerprint(t: Tracked, size: int) -> None:
    """Fingerprint more of the content once the file has more (up to `FP_BYTES`); a content
    without a fingerprint yet (NULs so far) is fingerprinted once it has text."""
    if t.fd is not None and t.fp_len < FP_BYTES and size > t.fp_at + t.fp_len:
        head = Head(os.pread(t.fd, FP_BYTES, t.fp_at), False, t.fp_at) if t.fp_len else head_of(t.fd)
        t.fp, t.fp_len, t.fp_at = fingerprint(head.data), len(head.data), head.at


def same_content(t: Tracked, size: int) -> bool:
    """False when the plain file no longer holds the content read so far (truncated, rewritten)."""
    if size < t.read:
        return False
    if t.fd is None or t.fp_len == 0:
        return True
    return fingerprint(os.pread(t.fd, t.fp_len, t.fp_at)) == t.fp


def read_plain(t: Tracked, size: int, final: bool, cap: int) -> list[RawChunk]:
    """The complete lines of the plain file from ``t.read`` up to ``size`` (``final``: the last
    line too, even without a newline); advances ``t.read``, and ``t.seen`` to where it looked.
    It reads `READ_BYTES`, and past them only to the end of the line they end in: a longer line
    is not waited for forever (the line reader keeps ``cap`` bytes of it, see `iter_line_blocks`)."""
    assert t.fd is not None and t.origin is not None
    fd, pos = t.fd, t.read
    end = min(size, pos + READ_BYTES)
    newline = pos - 1  # offset of the last "\n" read

    def read(n: int) -> bytes:
        nonlocal pos, newline
        stop = end if pos < end or newline >= end - 1 else size  # past end only to finish the line
        if pos >= stop:
            return b""
        data = os.pread(fd, min(n, stop - pos), pos)
        if (last := data.rfind(b"\n")) >= 0:
            newline = pos + last
        pos += len(data)
        return data

    out: list[RawChunk] = []
    for block in iter_line_blocks(read, cap, base=t.read):
        if not block.complete and not final:
            break  # a line still being written: read it again next time
        out += _chunks(t, block)
    t.seen = pos
    return out


def open_archive(t: Tracked, configured: str, cap: int) -> float:
    """Start reading the compressed copy ``t.archive`` at the decompressed offset ``t.read``;
    returns the archive's mtime (the year of RFC 3164 stamps is inferred from it)."""
    assert t.archive is not None
    try:
        fd = os.open(t.archive, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise input_error(t.archive, exc) from None
    mtime = os.fstat(fd).st_mtime
    stream = t.stream = InputStream.open_fd(t.archive, fd)
    t.fmt = t.fmt or sniff_format(stream.peek(SNIFF_BYTES), configured)
    left = t.read
    while left > 0:
        skipped = len(stream.read(min(left, SKIP_BLOCK)))
        if not skipped:
            break
        left -= skipped
    t.read -= left  # an archive shorter than the offset reached: nothing more to read
    t.blocks = iter_line_blocks(stream.read, cap, base=t.read)
    return mtime


def read_archive(t: Tracked) -> tuple[list[RawChunk], bool]:
    """The next block of lines of the archive, and whether it is at its end. A damaged archive
    ends with an item tagged ``unparsed`` and ``read_error`` saying where it broke."""
    assert t.stream is not None and t.blocks is not None and t.origin is not None
    block = next(t.blocks, None)
    if block is not None:
        return _chunks(t, block), False
    failure = t.stream.failure
    if failure is None:
        return [], True
    error = RawChunk(t.origin, "text", [failure.message()], offsets=[t.read], tags={0: (TAG_UNPARSED, TAG_READ_ERROR)})
    return [error], True


def _chunks(t: Tracked, block: LineBlock) -> list[RawChunk]:
    assert t.origin is not None
    items, tags = decode_lines(block)
    t.read = block.end
    t.nul_runs += [(block.offsets[i], n) for i, n in block.nuls.items()]
    return list(split_block(t.origin, items, block, tags, t.path, block.end, POLL_LINES))


def origin_of(t: Tracked, source_id: str, mtime: float | None) -> Origin:
    fmt: Format = "elasticsearch" if t.fmt == "elasticsearch" else "syslog"
    return Origin(source_id, fmt, path=t.path, mtime=mtime)
