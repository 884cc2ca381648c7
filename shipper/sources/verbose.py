"""``journalctl -o verbose`` dumps, read into the fields the export reader gives.

journalctl prints each entry as a header line, ``<time> [<cursor>]``, then one line per field,
``    NAME=value`` (systemd's ``src/shared/logs-show.c``, ``output_verbose``). The header's time is
the entry's *source* time when it has one (``_SOURCE_REALTIME_TIMESTAMP``), in the zone of the
machine that printed it: it is not read. The cursor ``s=…;i=…;b=…;m=…;t=…;x=…`` carries the exact
values instead: ``t`` the receive time in µs and ``m`` the monotonic time (hex), ``b`` the boot id.
They give ``__REALTIME_TIMESTAMP``, ``__MONOTONIC_TIMESTAMP`` and ``_BOOT_ID``, as ``-o export``
prints them; the seqnum ``i`` stays in ``__CURSOR`` (which is where shipper reads it).

A value of several lines continues on lines indented under its first (``4 + len(NAME) + 1``
spaces). What the dump does not hold is said, never made up:

* a value journalctl did not print (not valid UTF-8, a control character, or 300 bytes and more
  with ``--no-full``) reads ``NAME=[1.4K blob data]``. Such a field is left out of the entry; a
  MESSAGE keeps that text, so the event says what the dump said. The entry is tagged
  `TAG_BLOB_NOT_SHOWN`. ``-o verbose --all`` prints such values, but only up to their first NUL
  byte: an entry with one (not UTF-8, or with a control character) is tagged so too.
* a value's last line end is not in the dump (``a\\n`` prints as ``a``).

The catalog text of ``-x`` (lines that start ``░░`` or ``-- ``) is left out: it is systemd's
explanation of the MESSAGE_ID, not the entry's. journalctl's ``-- Boot … --`` lines (and ``-- No
entries --``) become events tagged ``meta``. An entry whose header's cursor is not journalctl's or
with a line that is no field becomes an ``unparsed`` event whose message is its text (the fields
read before the bad line kept), and so does text that is no entry (a shell prompt pasted with
the dump; a run of more than `MAX_FIELD_BYTES` without a new entry). The last entry of an input
that ends without a line end (cut by ``head -c``: its last value may be cut) is tagged
``truncated``, and followed by an item tagged ``read_error`` that says where it starts.
"""

from __future__ import annotations

import re
from typing import Iterator

from shipper.event import TAG_BLOB_NOT_SHOWN, TAG_META, TAG_TRUNCATED
from shipper.sources.export import (
    JSON_LINE_BYTES,
    MAX_FIELD_BYTES,
    FieldSource,
    Fields,
    Tags,
    add_field,
    as_value,
    cut_item,
    line_pieces,
    unparsed_item,
)
from shipper.sources.lines import iter_line_blocks
from shipper.sources.stream import InputStream

# sd_journal_get_cursor's form: "s=%s;i=%x;b=%s;m=%x;t=%x;x=%x" (seqnum id, seqnum, boot id,
# monotonic, realtime, xor hash); the time before it is "Mon 2022-10-24 04:00:53.027504 UTC".
HEADER = re.compile(
    rb"\S[^\[\]]*? \[(s=[0-9a-f]{32};i=[0-9a-f]+;b=([0-9a-f]{32});m=([0-9a-f]+);t=([0-9a-f]+);x=[0-9a-f]+)\]\Z"
)
FIELD = re.compile(rb"    ([A-Z_][A-Z0-9_]*)=")
# FORMAT_BYTES of the value's length: "8B", "1.4K", "12.0M".
_BLOB = re.compile(rb"\[\d+(?:\.\d)?[BKMGTPE] blob data\]\Z")
# What journalctl prints only with --all (utf8_is_printable: control characters, not UTF-8); it
# prints such a value with printf's "%.*s", which stops at the first NUL byte.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CATALOG = ("░░".encode(), b"-- ")
_INDENT = b" "

Item = tuple[Fields, Tags | None, int]


def is_meta(line: bytes) -> bool:
    """journalctl's line about the dump: ``-- Boot 5ea5… --``, ``-- No entries --``."""
    return line.startswith(b"-- ") and line.endswith(b" --")


def is_catalog(line: bytes) -> bool:
    """A line of the catalog text ``-x`` adds after an entry's fields."""
    return line.startswith(_CATALOG) and not is_meta(line)


class VerboseParser:
    """Incremental reader of verbose text: `line` by line, get whole entries back (`Item`: fields,
    tags or None, the stream offset after the entry)."""

    def __init__(self, cap: int) -> None:
        self._cap = cap
        self._lines: list[bytes] = []  # the entry (or the text that is no entry) being read
        self._entry = False  # whether self._lines starts with a header
        self._cut = False  # a line of it was longer than the line cap
        self._size = 0  # the bytes of self._lines
        self._start = 0  # stream offset of self._lines[0]
        self._end = 0  # stream offset after self._lines
        self.cut: int | None = None  # stream offset of an entry cut by the end of the input

    def line(self, line: bytes, start: int, end: int, capped: bool = False) -> list[Item]:
        """Take the line (without its line end) at stream offsets ``start`` to ``end``;
        ``capped``: it was cut to the line cap."""
        out: list[Item] = []
        meta = is_meta(line)
        if meta or not line or HEADER.match(line):
            out = self.flush()
            if meta:
                out.append(({"MESSAGE": line.decode("utf-8", "replace")}, (TAG_META,), end))
            elif line:
                self._add(line, start, capped, entry=True)
        elif self._lines and (line.startswith(_INDENT) or (self._entry and is_catalog(line))):
            self._add(line, start, capped)
        else:  # text that is no entry
            out = self.flush()
            self._add(line, start, capped)
        self._end = end
        if self._size > MAX_FIELD_BYTES:  # no entry is that long: what is read so far is no entry
            self._entry = False
            out += self.flush()
        return out

    def _add(self, line: bytes, start: int, capped: bool, entry: bool = False) -> None:
        if not self._lines:
            self._start, self._entry = start, entry
        self._lines.append(line)
        self._size += len(line) + 1
        self._cut = self._cut or capped

    def flush(self, cut_short: bool = False) -> list[Item]:
        """The entry read so far, as an item (or unparsed items). ``cut_short``: the input ended
        inside it (its last line has no line end): it is tagged truncated, and `cut` says where
        it starts."""
        lines, entry, capped = self._lines, self._entry, self._cut
        self._lines, self._entry, self._cut, self._size = [], False, False, 0
        if not lines:
            return []
        if cut_short:
            self.cut = self._start
        fields, tags, good = _entry_fields(lines) if entry else ({}, (), False)
        if not good:
            return self._unparsed(b"\n".join(lines), fields, capped or cut_short)
        if capped or cut_short:
            tags += (TAG_TRUNCATED,)
        return [(fields, tags or None, self._end)]

    def _unparsed(self, raw: bytes, fields: Fields, cut: bool) -> list[Item]:
        """Text that is no well-formed entry as unparsed items of at most the cap each; the first
        keeps ``fields``, the last of a ``cut`` one is tagged truncated."""
        pieces = line_pieces(raw, self._cap)
        out: list[Item] = []
        for i, piece in enumerate(pieces):
            item, tags = unparsed_item(piece, self._cap, None if i else fields)
            if cut and i == len(pieces) - 1 and TAG_TRUNCATED not in tags:
                tags += (TAG_TRUNCATED,)
            out.append((item, tags, self._end))
        return out


def _entry_fields(lines: list[bytes]) -> tuple[Fields, Tags, bool]:
    """The fields of the entry ``lines`` (a header, field lines and their continuations, catalog
    lines), its tags, and whether every line was read (else the fields before the bad one)."""
    fields = _cursor_fields(lines[0])
    tags: Tags = ()
    i, n = 1, len(lines)
    while i < n:
        line = lines[i]
        i += 1
        if is_catalog(line):
            continue
        m = FIELD.match(line)
        if m is None:
            return fields, tags, False
        name = m.group(1).decode()
        value = [line[m.end() :]]
        indent = _INDENT * (m.end())
        while i < n and lines[i].startswith(indent):
            value.append(lines[i][len(indent) :])
            i += 1
        if len(value) == 1 and _BLOB.match(value[0]):
            tags = (TAG_BLOB_NOT_SHOWN,)
            if name != "MESSAGE":
                continue
        text = as_value(b"\n".join(value))
        if isinstance(text, bytes) or _UNPRINTABLE.search(text):
            tags = (TAG_BLOB_NOT_SHOWN,)  # printed by --all, but maybe cut at a NUL byte
        add_field(fields, name, text)
    return fields, tags, True


def _cursor_fields(header: bytes) -> Fields:
    """What the header's cursor says, as ``-o export`` prints it (see the module doc)."""
    m = HEADER.match(header)
    assert m is not None  # the parser starts entries at headers only
    cursor, boot, monotonic, realtime = (g.decode() for g in m.groups())
    return {
        "__CURSOR": cursor,
        "__REALTIME_TIMESTAMP": str(int(realtime, 16)),
        "__MONOTONIC_TIMESTAMP": str(int(monotonic, 16)),
        "_BOOT_ID": boot,
    }


class VerboseSource(FieldSource):
    """A ``journalctl -o verbose`` dump."""

    def _entries(self, stream: InputStream) -> Iterator[Item]:
        parser = VerboseParser(self._cap)
        for block in iter_line_blocks(stream.read, max(self._cap, JSON_LINE_BYTES)):
            capped = set(block.truncated)
            ends = block.offsets[1:] + [block.end]
            for i, line in enumerate(block.lines):
                yield from parser.line(line, block.offsets[i], ends[i], i in capped)
            if not block.complete:
                yield from parser.flush(cut_short=True)
        yield from parser.flush()
        if parser.cut is not None and stream.failure is None:  # a broken stream is reported after this
            yield cut_item(stream, parser.cut, "verbose")
