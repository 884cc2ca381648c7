"""Text inputs (syslog files, Elasticsearch logs), plain or compressed, as chunks of lines.

Each line is decoded as UTF-8; a line that is not valid UTF-8 is decoded with replacement
characters and tagged ``invalid_utf8``, a line cut to ``max_line_bytes`` is tagged ``truncated``.
NUL bytes are kept, but a run of them at a line's start, which is dropped and tagged
``nul_bytes_skipped`` (`shipper.sources.lines`). A damaged archive ends the input with one last item tagged ``unparsed`` and
``read_error`` that says where it broke (everything before it has been handed on).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from shipper.errors import InputError
from shipper.event import TAG_INVALID_UTF8, TAG_NUL_SKIPPED, TAG_READ_ERROR, TAG_TRUNCATED, TAG_UNPARSED
from shipper.sources.base import Origin, RawChunk
from shipper.sources.lines import BLOCK_SIZE, LineBlock, RawBlock, iter_raw_blocks, split_raw
from shipper.sources.stream import StreamSource

CHUNK_LINES = 2000
Tags = dict[int, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class TextBlock:
    """A block of whole lines as read, before splitting and decoding (which a worker may do)."""

    raw: RawBlock
    progress: int  # input bytes consumed when it was read
    broken: bool  # the input broke inside its last line: that line is tagged truncated


class TextSource(StreamSource):
    """One text file (or stdin). ``open_stream`` is called once, when reading starts."""

    block_size = BLOCK_SIZE  # bytes read at a time (tests make it small to get many blocks)

    def chunks(self) -> Iterator[RawChunk]:
        for block in self.blocks():
            if isinstance(block, RawChunk):
                yield block
            else:
                yield from block_chunks(self.origin, block, self._cap)

    def blocks(self) -> Iterator[TextBlock | RawChunk]:
        """The input's blocks, then (if it broke) the item that reports the read error."""
        try:
            stream = self._stream = self._open()
        except InputError as exc:  # gone since open_inputs saw it (rotated away): say so, go on
            yield self._error(f"shipper: {exc}", 0, 0, 0)
            return
        end = 0
        for raw in iter_raw_blocks(stream.read, self._cap, self.block_size):
            end = raw.base + len(raw.data) + raw.dropped + raw.complete
            yield TextBlock(raw, stream.consumed, broken=stream.failure is not None and not raw.complete)
        if stream.failure is not None:
            yield self._error(stream.failure.message(), stream.failure.offset, end, stream.consumed)

    @property
    def cap(self) -> int:
        return self._cap

    @property
    def _checkpoint_path(self) -> str:
        return self.origin.path or "-"

    def _error(self, message: str, offset: int, end: int, progress: int) -> RawChunk:
        """The item that reports a read error, tagged ``unparsed`` and ``read_error``."""
        return RawChunk(
            self.origin,
            "text",
            [message],
            offsets=[offset],
            tags={0: (TAG_UNPARSED, TAG_READ_ERROR)},
            checkpoint=(self._checkpoint_path, end),
            progress=progress,
        )


def block_chunks(origin: Origin, block: TextBlock, cap: int) -> Iterator[RawChunk]:
    """The chunks of a block: split, decoded, tagged."""
    lines, items, tags = _decoded(block.raw, cap, block.broken)
    yield from split_block(origin, items, lines, tags, origin.path or "-", block.progress)


def lines_chunk(origin: Origin, block: TextBlock, cap: int, start: int, stop: int) -> RawChunk:
    """The lines of ``block`` from byte ``start`` to ``stop`` (both where a line starts, or
    ``stop`` one past the end of the data after its last line) as `block_chunks` gives them:
    split, decoded, tagged (without a checkpoint)."""
    raw = block.raw
    whole = stop > len(raw.data)  # to the end of the block
    part = RawBlock(raw.data[start : stop - 1], raw.base + (raw.dropped + start if start else 0),
                    0 if start else raw.dropped, raw.complete if whole else True)
    lines, items, tags = _decoded(part, cap, block.broken and whole)
    return RawChunk(origin, "text", items, offsets=lines.offsets, tags=tags, progress=block.progress)


def _decoded(raw: RawBlock, cap: int, broken: bool) -> tuple[LineBlock, list[str], Tags]:
    """The lines of ``raw``, as text, with their tags; ``broken``: the input broke inside the
    last line, which is tagged truncated."""
    lines = split_raw(raw, cap)
    items, tags = decode_lines(lines)
    if broken:
        _add_tag(tags, len(items) - 1, TAG_TRUNCATED)
    return lines, items, tags


def decode_lines(block: LineBlock) -> tuple[list[str], Tags]:
    """The block's lines as text, and the tags of lines that were cut, not valid UTF-8, or lost a
    run of NUL bytes at their start."""
    items, tags = _decode_lines(block)
    for i in block.nuls:
        _add_tag(tags, i, TAG_NUL_SKIPPED)
    return items, tags


def _decode_lines(block: LineBlock) -> tuple[list[str], Tags]:
    if not block.truncated:
        try:
            return list(map(bytes.decode, block.lines)), {}
        except UnicodeDecodeError:
            pass
    tags: Tags = {}
    cut = set(block.truncated)
    items: list[str] = []
    for i, line in enumerate(block.lines):
        text, valid = decode_line(line, i in cut)
        items.append(text)
        if i in cut:
            tags[i] = (TAG_TRUNCATED,) if valid else (TAG_TRUNCATED, TAG_INVALID_UTF8)
        elif not valid:
            tags[i] = (TAG_INVALID_UTF8,)
    return items, tags


def decode_line(line: bytes, cut: bool = False) -> tuple[str, bool]:
    """``(text, valid)``; for a ``cut`` line a character split by the cut is dropped, not
    counted as invalid. Bytes that are not UTF-8 are kept as surrogateescape does, for the id
    (`shipper.ids`, which then replaces them with U+FFFD)."""
    try:
        return line.decode(), True
    except UnicodeDecodeError as exc:
        if cut and exc.end == len(line) and exc.start >= len(line) - 3 and "unexpected end" in exc.reason:
            return decode_line(line[: exc.start])
        return line.decode("utf-8", "surrogateescape"), False


def _add_tag(tags: Tags, index: int, tag: str) -> None:
    old = tags.get(index, ())
    if tag not in old:
        tags[index] = old + (tag,)


def split_block(
    origin: Origin, items: list[str], block: LineBlock, tags: Tags, path: str, progress: int, size: int = CHUNK_LINES
) -> Iterator[RawChunk]:
    """Chunks of ``size`` lines of one block; the checkpoint is the offset after each chunk."""
    n = len(items)
    offsets = block.offsets
    for start in range(0, n, size):
        stop = min(start + size, n)
        end = offsets[stop] if stop < n else block.end
        local = {i - start: t for i, t in tags.items() if start <= i < stop} if tags else {}
        yield RawChunk(
            origin,
            "text",
            items[start:stop],
            offsets=offsets[start:stop],
            tags=local,
            checkpoint=(path, end),
            progress=progress,
        )
