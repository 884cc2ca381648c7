"""Splitting a byte stream into lines, block by block, with the byte offset of every line.

The hot path works on whole blocks (256 KiB): one ``split``, one pass of ``len`` and one
running sum per block, all in C. A line longer than the cap is cut to the cap; while such a line
is still incomplete at most ``cap`` bytes of it are buffered, so one huge line cannot exhaust
memory. A trailing ``\\r`` is removed; a last line without ``\\n`` is still a line.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate
from operator import add
from typing import Callable, Iterator

BLOCK_SIZE = 1 << 18  # 256 KiB: about 2,000 syslog lines, one batch; a worker's job


@dataclass(slots=True)
class LineBlock:
    lines: list[bytes]  # without the line terminator, cut to the cap
    offsets: list[int]  # offset of each line's first byte in the stream
    end: int  # offset just after the last line (and its "\n" if it had one)
    truncated: list[int]  # indices of lines that were longer than the cap
    complete: bool  # False when the last line ended at the end of the stream without "\n"


@dataclass(frozen=True, slots=True)
class RawBlock:
    """Whole lines as read, not split yet (splitting may happen in a worker process)."""

    data: bytes  # the lines joined by "\n", without the last line's "\n"
    base: int  # stream offset of data[0]
    dropped: int  # bytes of the first line beyond the cap, not kept
    complete: bool  # the last line had its "\n"


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
    while block := read(block_size):
        last = block.rfind(b"\n")
        if last < 0:
            pending, dropped = _extend(pending, dropped, block, cap)
            continue
        raw = RawBlock(pending + block[:last] if pending else block[:last], base, dropped, complete=True)
        yield raw
        base += len(raw.data) + dropped + 1
        pending, dropped = _extend(b"", 0, block[last + 1 :], cap)
    if pending or dropped:
        yield RawBlock(pending, base, dropped, complete=False)


def split_raw(raw: RawBlock, cap: int) -> LineBlock:
    """The lines of a block with their offsets; lines over the cap cut (see the module doc)."""
    return _finish(raw.data.split(b"\n"), raw.base, raw.dropped, cap, b"\r" in raw.data, complete=raw.complete)


def _extend(pending: bytes, dropped: int, more: bytes, cap: int) -> tuple[bytes, int]:
    """Add ``more`` to the incomplete line, keeping ``cap + 1`` bytes (one more, so that a line
    of exactly ``cap`` bytes plus "\r" is not taken for a long one)."""
    room = cap + 1 - len(pending)
    if len(more) <= room:
        return pending + more, dropped
    room = max(room, 0)
    return pending + more[:room], dropped + len(more) - room


def _finish(lines: list[bytes], base: int, dropped: int, cap: int, has_cr: bool, *, complete: bool) -> LineBlock:
    lens = list(map(len, lines))
    if dropped:
        lens[0] += dropped
    offsets = list(map(add, accumulate(lens, initial=base), range(len(lens))))
    end = offsets[-1] + lens[-1] + (1 if complete else 0)
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
    return LineBlock(lines, offsets, end, truncated, complete)
