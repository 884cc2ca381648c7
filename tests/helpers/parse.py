"""Feeding real files to the parsers directly (no sources): lines with byte offsets, field dicts.

* `read_lines(path)`: the file's lines as a source would give them (a trailing CR removed, UTF-8,
  invalid bytes replaced and tagged ``invalid_utf8``), with their byte offsets.
* `parse_text(fmt, lines, offsets, ...)`: documents from one parser, in chunks of ``chunk`` lines.
* `continuations(docs, lines, offsets)`: the lines folded into a record; asserts that every line
  is the first line of exactly one document or is found in the record before it.
* `json_entries(path)`, `export_entries(data)`: journal dumps -> field dicts (binary as bytes).
* `load_samples()`: the annotated samples of ``tests/samples/parse/*.yaml``.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import yaml

from shipper.event import TAG_INVALID_UTF8, Doc
from shipper.parse.base import ParseContext
from shipper.parse.dispatch import make_parser
from shipper.sources.base import Format, Origin, RawChunk

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
ANNOTATIONS = ROOT / "samples" / "parse"


@dataclass
class Lines:
    items: list[str]
    offsets: list[int]
    tags: dict[int, tuple[str, ...]] = field(default_factory=dict)


def read_lines(path: Path) -> Lines:
    data = path.read_bytes()
    raw = data.split(b"\n")
    if raw and raw[-1] == b"":
        raw.pop()
    out = Lines([], [])
    pos = 0
    for i, line in enumerate(raw):
        out.offsets.append(pos)
        pos += len(line) + 1
        if line.endswith(b"\r"):  # as the sources do
            line = line[:-1]
        try:
            out.items.append(line.decode())
        except UnicodeDecodeError:
            out.items.append(line.decode("utf-8", "replace"))
            out.tags[i] = (TAG_INVALID_UTF8,)
    return out


def parse_text(
    fmt: Format,
    lines: Lines,
    *,
    path: str | None = "/var/log/test.log",
    timezone: str = "UTC",
    year: int | None = None,
    mtime: float | None = None,
    chunk: int = 2000,
) -> list[Doc]:
    origin = Origin(source_id=path or "stdin", format=fmt, path=path, mtime=mtime)
    parser = make_parser(origin, ParseContext(timezone=timezone, year=year))
    docs: list[Doc] = []
    for start in range(0, len(lines.items), chunk):
        tags = {i - start: t for i, t in lines.tags.items() if start <= i < start + chunk}
        items = lines.items[start : start + chunk]
        docs += parser.parse(RawChunk(origin, "text", items, lines.offsets[start : start + chunk], tags))
    return docs + parser.flush()


def parse_fields(entries: list[dict[str, Any]], *, chunk: int = 2000, mtime: float | None = None) -> list[Doc]:
    origin = Origin(source_id="journal", format="journal", mtime=mtime)
    parser = make_parser(origin, ParseContext(timezone="UTC"))
    docs: list[Doc] = []
    for start in range(0, len(entries), chunk):
        docs += parser.parse(RawChunk(origin, "fields", entries[start : start + chunk]))
    return docs + parser.flush()


def continuations(docs: list[Doc], lines: Lines, body: Any = None) -> list[int]:
    """Indexes of the lines folded into a record. Asserts the accounting: document offsets are
    distinct line starts, and every other line is part of the message of the record before it.
    ``body(line)`` gives the part of a folded line that the message holds (default: the line)."""
    starts = [d["log"]["offset"] for d in docs]
    assert starts == sorted(starts) and len(set(starts)) == len(starts), "documents out of line order"
    line_at = {off: i for i, off in enumerate(lines.offsets)}
    assert all(s in line_at for s in starts), "a document's log.offset is not the start of a line"
    first_lines = {line_at[s] for s in starts}
    folded = [i for i in range(len(lines.items)) if i not in first_lines]
    for i in folded:
        owner = docs[bisect.bisect_right(starts, lines.offsets[i]) - 1] if starts and starts[0] < lines.offsets[i] else None
        assert owner is not None, f"line {i + 1} precedes every document"
        text = body(lines.items[i]) if body else lines.items[i]
        assert text in owner["message"], f"line {i + 1} is neither a document nor in its record: {lines.items[i]!r}"
    return folded


def json_entries(path: Path) -> list[dict[str, Any]]:
    """``journalctl -o json``: one object per line; arrays of byte numbers become bytes."""
    out = []
    for line in path.read_bytes().splitlines():
        obj = orjson.loads(line)
        out.append({k: _json_value(v) for k, v in obj.items()})
    return out


def _json_value(value: Any) -> Any:
    if isinstance(value, list) and value and all(isinstance(x, int) for x in value):
        return bytes(value)
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    return value


def export_entries(data: bytes) -> list[dict[str, Any]]:
    """``journalctl -o export``: ``NAME=value`` lines, or ``NAME`` + le64 length + bytes for binary."""
    entries: list[dict[str, Any]] = []
    fields: dict[str, Any] = {}
    pos = 0
    while pos < len(data):
        end = data.index(b"\n", pos)
        line = data[pos:end]
        if not line:
            if fields:
                entries.append(fields)
            fields, pos = {}, end + 1
            continue
        if b"=" in line:
            name, value = line.split(b"=", 1)
            pos = end + 1
        else:
            name = line
            size = int.from_bytes(data[end + 1 : end + 9], "little")
            value = data[end + 9 : end + 9 + size]
            pos = end + 9 + size + 1
        try:
            decoded: Any = value.decode()
        except UnicodeDecodeError:
            decoded = value
        key = name.decode()
        if key in fields:
            old = fields[key]
            fields[key] = (old if isinstance(old, list) else [old]) + [decoded]
        else:
            fields[key] = decoded
    if fields:
        entries.append(fields)
    return entries


@dataclass
class Sample:
    """One annotated file: how to parse it and what some of its lines must give."""

    file: str  # relative to tests/data
    format: Format
    timezone: str = "UTC"
    year: int | None = None
    mtime: float | None = None
    documents: int | None = None  # expected number of documents
    folded: int | None = None  # expected number of continuation lines
    lines: dict[int, dict[str, Any]] = field(default_factory=dict)  # 1-based line -> expectations

    @property
    def path(self) -> Path:
        return DATA / self.file


def load_samples() -> list[Sample]:
    out = []
    for path in sorted(ANNOTATIONS.glob("*.yaml")):
        for entry in yaml.safe_load(path.read_text())["files"]:
            mtime = entry.pop("mtime", None)
            if isinstance(mtime, datetime):
                mtime = mtime.timestamp()
            elif isinstance(mtime, str):
                mtime = datetime.fromisoformat(mtime.replace("Z", "+00:00")).timestamp()
            out.append(Sample(mtime=mtime, **entry))
    return out
