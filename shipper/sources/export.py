"""Journal dumps: ``journalctl -o export`` and ``journalctl -o json`` files, as field chunks.

Every entry becomes a dict of field name -> ``str`` (``bytes`` when the value is not valid UTF-8;
a list of those for a field that occurs several times). Of the ``__`` fields only `KEEP_DUNDER`
are kept. What cannot be parsed is never dropped: a broken export entry or a line that is not a
JSON object becomes an item tagged ``unparsed`` whose ``MESSAGE`` is the raw text. A broken export
entry runs to the next blank line; its text is cut at line ends into items of at most
``max_line_bytes`` (the first keeps the fields read before the break), so even a text file read
as export loses nothing. An entry cut by the end of the input (in the middle of a field: a last
line without its line end, a binary field shorter than its length) is kept the same way, its
text tagged ``truncated``, followed by an item tagged ``read_error`` that says where it was cut.
A last entry that is complete but lacks the blank line after it is an entry like any other. In a
JSON dump (an entry per line) likewise: a last line without its line end is cut if it is not
complete JSON, and else a line like any other.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Iterator, Literal

import orjson

from shipper.errors import InputError
from shipper.event import TAG_INVALID_UTF8, TAG_READ_ERROR, TAG_TRUNCATED, TAG_UNPARSED
from shipper.sources.base import RawChunk
from shipper.sources.files import decode_line
from shipper.sources.lines import BLOCK_SIZE, iter_line_blocks
from shipper.sources.stream import InputStream, ReadFailure, StreamSource

Value = str | bytes | list[str | bytes]
Fields = dict[str, Value]
Tags = tuple[str, ...]

KEEP_DUNDER = frozenset({"__CURSOR", "__REALTIME_TIMESTAMP", "__MONOTONIC_TIMESTAMP", "__SEQNUM"})
CHUNK_ENTRIES = 1000
MAX_FIELD_BYTES = 64 << 20  # a binary field declared longer than this is taken as corruption
BROKEN_WAIT = 4 << 20  # how far to look for the blank line that ends a broken entry
JSON_LINE_BYTES = 16 << 20  # JSON entries carry binary values as number arrays: allow long lines

_NOT_JSON = object()  # a line orjson cannot read (or too long to try)
_FIELD_NAME = re.compile(rb"[A-Z_][A-Z0-9_]*\Z")
# How `read_entry` stopped: after a whole entry; for more data; at a field that is no export
# field; at the end of the input, in the middle of a field.
DONE, MORE, BROKEN, CUT = range(4)


def as_value(raw: bytes) -> str | bytes:
    """UTF-8 text as ``str``; anything else stays ``bytes``."""
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return raw


def add_field(fields: Fields, name: str, value: str | bytes) -> None:
    """Set a field; a field seen again with another value becomes a list of its values (the
    same value twice is kept once, as a journal file stores it)."""
    old = fields.get(name)
    if old is None:
        fields[name] = value
    elif isinstance(old, list):
        if value not in old:
            old.append(value)
    elif old != value:
        fields[name] = [old, value]


def unparsed_item(raw: bytes, cap: int, fields: Fields | None = None) -> tuple[Fields, Tags]:
    """An entry that could not be read: its raw text as MESSAGE, tagged ``unparsed``."""
    cut = len(raw) > cap
    text, valid = decode_line(raw[:cap], cut)
    item: Fields = {k: v for k, v in (fields or {}).items() if k != "MESSAGE"}
    item["MESSAGE"] = text
    tags: Tags = (TAG_UNPARSED,) + ((TAG_TRUNCATED,) if cut else ()) + (() if valid else (TAG_INVALID_UTF8,))
    return item, tags


def line_pieces(raw: bytes, cap: int) -> list[bytes]:
    """``raw`` cut at line ends into pieces of at most ``cap`` bytes (a single longer line is a
    piece of its own), so a long unparsable stretch is kept whole, in bounded items."""
    pieces: list[bytes] = []
    start = 0
    while len(raw) - start > cap:
        cut = raw.rfind(b"\n", start, start + cap + 1)
        if cut <= start:
            cut = raw.find(b"\n", start + cap)
            cut = len(raw) if cut < 0 else cut
        pieces.append(raw[start:cut])
        start = cut + 1
    if start < len(raw) or not pieces:
        pieces.append(raw[start:])
    return pieces


def read_entry(buf: bytes, pos: int, eof: bool) -> tuple[int, Fields, int]:
    """The entry of ``buf`` at ``pos``: ``(status, fields, end)``, see `DONE`; ``end`` is after
    the entry (done) or where it stopped; ``fields`` are those read before that. ``eof``: the
    input ends with ``buf``."""
    fields: Fields = {}
    n = len(buf)
    while True:
        nl = buf.find(b"\n", pos)
        if nl < 0:
            if not eof:
                return MORE, fields, pos
            if pos >= n:
                return DONE, fields, n
            nl = n  # the last line has no "\n"
        if nl == pos:
            return DONE, fields, nl + 1
        name, eq, raw = buf[pos:nl].partition(b"=")
        if not _FIELD_NAME.match(name):
            return BROKEN, fields, pos
        if nl == n:
            return CUT, fields, pos
        nxt = nl + 1
        if not eq:
            start = nl + 9
            size = int.from_bytes(buf[nl + 1 : start], "little")
            if size > MAX_FIELD_BYTES:
                return BROKEN, fields, pos
            if start + size >= n + (1 if eof else 0):
                if not eof:
                    return MORE, fields, pos
                # Shorter than its length: cut, unless a blank line after it says the length is wrong.
                return (BROKEN if buf.find(b"\n\n", start) >= 0 else CUT), fields, pos
            if start + size < n and buf[start + size] != 0x0A:
                return BROKEN, fields, pos
            raw, nxt = buf[start : start + size], min(start + size + 1, n)
        if not name.startswith(b"__") or name.decode() in KEEP_DUNDER:
            add_field(fields, name.decode(), as_value(raw))
        pos = nxt


class ExportParser:
    """Incremental parser of export text: `feed` blocks, get complete entries back."""

    def __init__(self, cap: int) -> None:
        self._cap = cap
        self._buf = b""
        self._base = 0  # stream offset of self._buf[0]
        self.cut: int | None = None  # stream offset of an entry cut by the end of the input

    def feed(self, data: bytes, eof: bool = False) -> list[tuple[Fields, Tags | None, int]]:
        """Entries completed by ``data``: ``(fields, tags or None, stream offset after it)``."""
        buf = self._buf + data if self._buf else data
        out: list[tuple[Fields, Tags | None, int]] = []
        pos = 0
        while pos < len(buf):
            status, fields, end = read_entry(buf, pos, eof)
            if status == MORE:
                break
            if status == DONE:
                if fields:
                    out.append((fields, None, self._base + end))
                pos = end
                continue
            stop = self._resync(buf, end, eof) if status == BROKEN else len(buf)
            if stop < 0:
                break
            if status == CUT:
                self.cut = self._base + pos
            out += self._unparsed(buf[pos:stop], fields, self._base + stop, status == CUT)
            pos = stop
        self._buf = buf[pos:]
        self._base += pos
        return out

    def _unparsed(self, raw: bytes, fields: Fields, end: int, cut: bool) -> list[tuple[Fields, Tags | None, int]]:
        """A broken (or ``cut``) entry's text as unparsed items; the first keeps ``fields``, the
        last of a cut entry is tagged truncated."""
        pieces = line_pieces(raw.rstrip(b"\n"), self._cap)
        out: list[tuple[Fields, Tags | None, int]] = []
        for i, piece in enumerate(pieces):
            item, tags = unparsed_item(piece, self._cap, None if i else fields)
            if cut and i == len(pieces) - 1 and TAG_TRUNCATED not in tags:
                tags += (TAG_TRUNCATED,)
            out.append((item, tags, end))
        return out

    def _resync(self, buf: bytes, broken_at: int, eof: bool) -> int:
        """Where to go on after a broken entry: after the next blank line, or -1 to wait for
        more data. After `BROKEN_WAIT` bytes without a blank line, go on after the last line
        end (the stretch so far becomes unparsed items; parsing starts again there)."""
        k = buf.find(b"\n\n", broken_at)
        if k >= 0:
            return k + 2
        if eof:
            return len(buf)
        if len(buf) - broken_at > BROKEN_WAIT:
            return buf.rfind(b"\n", broken_at) + 1 or len(buf)
        return -1


def fields_from_json(obj: dict[str, Any]) -> Fields:
    """A ``journalctl -o json`` object as fields: strings stay, byte arrays become bytes (str when
    valid UTF-8), arrays of values become lists, null (an oversized value) is left out."""
    out: Fields = {}
    for key, value in obj.items():
        if key.startswith("__") and key not in KEEP_DUNDER:
            continue
        if type(value) is str:
            out[key] = value
        elif type(value) is list:
            if value and all(type(x) is int for x in value):
                out[key] = _json_bytes(value)
            else:
                out[key] = [x if type(x) is str else _json_bytes(x) for x in value if x is not None]
        elif value is not None:
            out[key] = str(value)
    return out


def _json_bytes(numbers: list[int]) -> str | bytes:
    try:
        return as_value(bytes(numbers))
    except (TypeError, ValueError):  # not a list of 0..255: keep its text
        return orjson.dumps(numbers).decode()


class FieldSource(StreamSource):
    """What the dump sources share: opening, chunking, the read-error item."""

    def __init__(
        self, source_id: str, open_stream: Callable[[], InputStream], *, path: str | None, size: int | None,
        mtime: float | None, max_line_bytes: int = 65536,
    ) -> None:
        super().__init__(source_id, "journal", open_stream, path=path, size=size, mtime=mtime, max_line_bytes=max_line_bytes)

    def chunks(self) -> Iterator[RawChunk]:
        try:
            stream = self._stream = self._open()
        except InputError as exc:  # gone since open_inputs saw it (rotated away): say so, go on
            yield self._chunk([{"MESSAGE": f"shipper: {exc}"}], {0: (TAG_UNPARSED, TAG_READ_ERROR)}, 0, 0)
            return
        items: list[Fields] = []
        tags: dict[int, Tags] = {}
        end = 0
        for fields, item_tags, end in self._entries(stream):
            if item_tags:
                tags[len(items)] = item_tags
            items.append(fields)
            if len(items) >= CHUNK_ENTRIES:
                yield self._chunk(items, tags, end, stream.consumed)
                items, tags = [], {}
        if stream.failure is not None:
            tags[len(items)] = (TAG_UNPARSED, TAG_READ_ERROR)
            items.append({"MESSAGE": stream.failure.message()})
        if items:
            yield self._chunk(items, tags, end, stream.consumed)

    def _chunk(self, items: list[Fields], tags: dict[int, Tags], end: int, progress: int) -> RawChunk:
        return RawChunk(
            self.origin, "fields", items, tags=tags, checkpoint=(self.origin.path or "-", end), progress=progress
        )

    def _entries(self, stream: InputStream) -> Iterator[tuple[Fields, Tags | None, int]]:
        raise NotImplementedError


class ExportSource(FieldSource):
    """A ``journalctl -o export`` dump."""

    def _entries(self, stream: InputStream) -> Iterator[tuple[Fields, Tags | None, int]]:
        parser = ExportParser(self._cap)
        while block := stream.read(BLOCK_SIZE):
            yield from parser.feed(block)
        yield from parser.feed(b"", eof=True)
        if parser.cut is not None and stream.failure is None:  # a broken stream is reported after this
            yield cut_item(stream, parser.cut, "export")


# How journalctl ends every entry of a dump of each format (a dump that ends otherwise is cut).
_ENTRY_ENDS = {"export": "journalctl -o export ends every entry with a blank line",
               "JSON": "journalctl -o json ends every entry with a line end",
               "verbose": "journalctl -o verbose ends every line with a line end"}


def cut_item(stream: InputStream, start: int, dump: Literal["export", "JSON", "verbose"]) -> tuple[Fields, Tags, int]:
    """The item tagged ``read_error`` that says ``stream`` ends inside the ``dump`` entry that
    starts at byte ``start`` (its text is the item before, tagged unparsed and truncated)."""
    failure = ReadFailure(
        stream.name,
        f"the input ends inside the {dump} entry that starts at byte {start}",
        stream.offset,
        stream.consumed,
        stream.size,
        stream.compression,
        fix=f"the dump is cut short ({_ENTRY_ENDS[dump]}); "
        "the entry's text is kept as an event tagged unparsed and truncated",
    )
    return {"MESSAGE": failure.message()}, (TAG_UNPARSED, TAG_READ_ERROR), stream.offset


class JsonSource(FieldSource):
    """A ``journalctl -o json`` dump: one object per line. A last line without its line end that is
    not complete JSON (``head -c`` cut the dump inside it) is kept as an unparsed item tagged
    ``truncated``, followed by an item tagged ``read_error`` that says where it was cut."""

    def _entries(self, stream: InputStream) -> Iterator[tuple[Fields, Tags | None, int]]:
        cap = max(self._cap, JSON_LINE_BYTES)
        cut_at: int | None = None  # where the entry the input ends inside starts
        for block in iter_line_blocks(stream.read, cap):
            capped = set(block.truncated)
            ends = block.offsets[1:] + [block.end]
            for i, line in enumerate(block.lines):
                if not line.strip():
                    continue
                try:
                    obj = orjson.loads(line) if i not in capped else _NOT_JSON
                except orjson.JSONDecodeError:
                    obj = _NOT_JSON
                if isinstance(obj, dict):
                    try:
                        fields = fields_from_json(obj)
                    except TypeError:  # a value nested deeper than orjson writes (254 levels): kept raw
                        fields = None
                    if fields is not None:
                        yield fields, None, ends[i]
                        continue
                item, tags = unparsed_item(line, self._cap)
                cut = obj is _NOT_JSON and not block.complete and i == len(block.lines) - 1
                if (cut or i in capped) and TAG_TRUNCATED not in tags:
                    tags += (TAG_TRUNCATED,)
                if cut:
                    cut_at = block.offsets[i]
                yield item, tags, ends[i]
        if cut_at is not None and stream.failure is None:  # a broken stream is reported after this
            yield cut_item(stream, cut_at, "JSON")
