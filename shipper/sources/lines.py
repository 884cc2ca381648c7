"""Splitting a byte stream into lines, block by block, with the byte offset of every line.

The hot path works on whole blocks (256 KiB): one ``split``, one pass of ``len`` and one
running sum per block, all in C. A line longer than the cap is cut to the cap; while such a line
is still incomplete at most ``cap`` bytes of it are buffered, so one huge line cannot exhaust
memory. A trailing ``\\r`` is removed; a last line without ``\\n`` is still a line.

A run of NUL bytes at the start of a line is dropped from it (`TAG_NUL_SKIPPED`): a writer that
does not open its file in append mode goes on writing at its old offset after logrotate's
``copytruncate``, and the file gets a hole (read as NULs) before its next line. The line's offset
is then that of its first byte after the run; the run is skipped while it is read, so a run longer
than the cap does not push the line out of it. Only such a run's last NUL reaches the block's data
(so the express lane, which takes lines that start with a letter, leaves the line to Python).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import accumulate
from operator import add
from typing import Callable, Iterator

BLOCK_SIZE = 1 << 18  # 256 KiB: about 2,000 syslog lines, one batch; a worker's job
NUL = b"\0"


@dataclass(slots=True)
class LineBlock:
    lines: list[bytes]  # without the line terminator, cut to the cap
    offsets: list[int]  # offset of each line's first byte in the stream
    end: int  # offset just after the last line (and its "\n" if it had one)
    truncated: list[int]  # indices of lines that were longer than the cap
    complete: bool  # False when the last line ended at the end of the stream without "\n"
    nuls: dict[int, int] = field(default_factory=dict)  # index -> NUL bytes dropped from the line's start


@dataclass(frozen=True, slots=True)
class RawBlock:
    """Whole lines as read, not split yet (splitting may happen in a worker process)."""

    data: bytes  # the lines joined by "\n", without the last line's "\n"
    base: int  # stream offset of data[0]
    dropped: int  # bytes of the first line beyond the cap, not kept
    complete: bool  # the last line had its "\n"
    nuls: int = 0  # NUL bytes of the first line's starting run before data[0], not kept


def iter_line_blocks(
    read: Callable[[int], bytes], cap: int, block_size: int = BLOCK_SIZE, base: int = 0
) -> Iterator[LineBlock]:
    """The lines of everything ``read`` returns until it returns ``b""``, one block at a time;
    offsets count from ``base`` (where ``read`` starts in the stream)."""
    for raw in iter_raw_blocks(read, cap, block_size, base):
        yield split_raw(raw, cap)


def iter_raw_blocks(read: Callable[[int], bytes], cap: int, block_size: int = BLOCK_SIZE, base: int = 0) -> Iterator[RawBlock]:
    """`iter_line_blocks` before the split: each block ends at a line end."""
    pending = b""  # the start of a line whose "\n" has not been read yet (at most cap + 1 bytes)
    dropped = 0  # bytes of that line beyond those, not kept
    nuls = 0  # NUL bytes at its start, not kept (see the module doc)
    while block := read(block_size):
        pending, block, skipped = _skip_nuls(pending, block)
        nuls += skipped
        last = block.rfind(b"\n")
        if last < 0:
            pending, dropped = _extend(pending, dropped, block, cap)
            continue
        raw = RawBlock(pending + block[:last] if pending else block[:last], base + nuls, dropped, True, nuls)
        yield raw
        base += nuls + len(raw.data) + dropped + 1
        pending, rest, nuls = _skip_nuls(b"", block[last + 1 :])
        pending, dropped = _extend(pending, 0, rest, cap)
    if pending or dropped:
        yield RawBlock(pending, base + nuls, dropped, False, nuls)


def split_raw(raw: RawBlock, cap: int) -> LineBlock:
    """The lines of a block with their offsets; lines over the cap cut (see the module doc)."""
    data = raw.data
    # (a one-byte search is a memchr, a hundred times cheaper than looking for "\n\0": a block
    # with a NUL anywhere, rare, has its lines looked at one by one)
    return _finish(data.split(b"\n"), raw.base, raw.dropped, cap, b"\r" in data, complete=raw.complete,
                   nuls=raw.nuls if NUL in data else -1)


def _skip_nuls(pending: bytes, data: bytes) -> tuple[bytes, bytes, int]:
    """Where a line starts (``pending`` is empty, or the one NUL kept of a run): the NUL run at the
    start of ``data`` is skipped but for one NUL; returns the line's start, the rest of ``data``
    after the run, and how many NUL bytes were skipped."""
    if data[:1] != NUL or pending not in (b"", NUL):
        return pending, data, 0
    rest = data.lstrip(NUL)
    return NUL, rest, len(data) - len(rest) - 1 + len(pending)


def _extend(pending: bytes, dropped: int, more: bytes, cap: int) -> tuple[bytes, int]:
    """Add ``more`` to the incomplete line, keeping ``cap + 1`` bytes (one more, so that a line
    of exactly ``cap`` bytes plus "\r" is not taken for a long one), besides the NUL kept of a run
    at the line's start (`_skip_nuls`)."""
    room = cap + 1 + (pending[:1] == NUL) - len(pending)
    if len(more) <= room:
        return pending + more, dropped
    room = max(room, 0)
    return pending + more[:room], dropped + len(more) - room


def _finish(lines: list[bytes], base: int, dropped: int, cap: int, has_cr: bool, *, complete: bool,
            nuls: int = -1) -> LineBlock:
    """``nuls``: -1 when no line starts with a NUL, else the NUL bytes skipped before the first line's."""
    lens = list(map(len, lines))
    if dropped:
        lens[0] += dropped
    offsets = list(map(add, accumulate(lens, initial=base), range(len(lens))))
    end = offsets[-1] + lens[-1] + (1 if complete else 0)
    skipped = _drop_nuls(lines, offsets, nuls) if nuls >= 0 else {}
    first = lines[0]
    if has_cr:
        lines = [line[:-1] if line.endswith(b"\r") else line for line in lines]
    truncated: list[int] = []
    if max(lens) > cap:  # lens count a "\r" too: a cheap test before the exact one
        truncated = [i for i, line in enumerate(lines) if len(line) > cap]
        for i in truncated:
            lines[i] = lines[i][:cap]
    if dropped:  # the first line lost its end (and any "\r" there) when it was capped
        lines[0] = first[:cap]
        if truncated[:1] != [0]:
            truncated.insert(0, 0)
    return LineBlock(lines, offsets, end, truncated, complete, skipped)


def _drop_nuls(lines: list[bytes], offsets: list[int], before: int) -> dict[int, int]:
    """Drop the NUL run at the start of each line (in place, the offset moved past it); returns
    how many NUL bytes each such line lost (the first one: ``before`` more, skipped when read)."""
    skipped: dict[int, int] = {}
    for i, line in enumerate(lines):
        if line[:1] == NUL:
            kept = line.lstrip(NUL)
            n = len(line) - len(kept)
            lines[i], offsets[i], skipped[i] = kept, offsets[i] + n, n + (before if i == 0 else 0)
    return skipped
