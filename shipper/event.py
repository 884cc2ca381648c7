"""The one event type that flows through every stage, and its deterministic id.

An event is an ECS-shaped document: a plain nested ``dict`` (``doc["host"]["name"]``), exactly the
JSON that is stored or indexed. Plain dicts keep the hot path cheap (no per-event objects) and make
the document self-describing. Stages exchange `Batch` objects, never single events.

Invariants every stage keeps (tests check them):

* ``@timestamp`` is UTC, formatted ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (fixed width, so comparing the
  strings orders events by time; the k-way merge relies on this).
* ``message`` is a ``str`` (never bytes); the raw text of an unparsed line is kept there.
* Text read from bytes that are not UTF-8 (the document is tagged ``invalid_utf8``) keeps those
  bytes as surrogateescape does until `shipper.ids.IdAssigner` has made the id of them; it then
  replaces them with U+FFFD (`shipper.ids.settle`). No stage before the ids encodes such text.
* ``event.id`` is set by `shipper.ids.IdAssigner` before a batch reaches the sinks.
* An entry that could not be parsed carries the tag ``unparsed``; it is never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Doc = dict[str, Any]

TAG_UNPARSED = "unparsed"
TAG_TRUNCATED = "truncated"
TAG_INVALID_UTF8 = "invalid_utf8"
TAG_TIMESTAMP_INFERRED = "timestamp_inferred"  # @timestamp is the previous or first dated record's (or mtime, or 1970)
TAG_META = "meta"  # a line about the dump, not a log entry (journalctl's "-- Boot ... --")
TAG_READ_ERROR = "read_error"  # an input broke here (truncated archive, I/O error); the item says where
TAG_DAMAGED = "damaged"  # a journal entry read without some of its fields (a damaged file: `sources.journal_entries.Entries`)
TAG_NUL_SKIPPED = "nul_bytes_skipped"  # a run of NUL bytes before the line was dropped (copytruncate: `sources.lines`)
TAG_BLOB_NOT_SHOWN = "blob_not_shown"  # a value a `journalctl -o verbose` dump did not show (`sources.verbose`)
TAG_TIMESTAMP_ZONE_IGNORED = "timestamp_zone_ignored"  # a zone word not of the configured zone: read in that zone (`parse.syslog_journalctl`)


@dataclass(slots=True)
class Batch:
    """Documents from one source, in order, with the source position reached after the last one.

    ``checkpoint`` is opaque to everything but the source that made it (a journal cursor, a file
    offset). It is committed only after every sink has acknowledged this batch and all before it.

    ``encoded`` (sink name -> one item per document, in order) carries documents a worker process
    has already encoded with that sink's `encoder` (`shipper.sinks.base`); a sink uses those items
    instead of encoding ``docs``, which may then be empty. ``count`` is the number of documents
    either way.
    """

    docs: list[Doc]
    source_id: str = ""
    checkpoint: object | None = None
    seq: int = -1  # set by the pipeline when the batch enters the sinks
    encoded: dict[str, list[Any]] | None = None

    @property
    def count(self) -> int:
        if self.encoded:
            return len(next(iter(self.encoded.values())))
        return len(self.docs)


def add_tag(doc: Doc, tag: str) -> None:
    tags = doc.get("tags")
    if tags is None:
        doc["tags"] = [tag]
    elif tag not in tags:
        tags.append(tag)


def has_tag(doc: Doc, tag: str) -> bool:
    return tag in doc.get("tags", ())


def get_path(doc: Doc, dotted: str, default: Any = None) -> Any:
    """``get_path(doc, "host.name")``: read a nested field, ``default`` when any part is missing."""
    cur: Any = doc
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return default
        cur = cur[part]
    return cur


def set_path(doc: Doc, dotted: str, value: Any) -> None:
    """``set_path(doc, "rootcause.cause.message", v)``: create intermediate objects as needed."""
    parts = dotted.split(".")
    cur = doc
    for part in parts[:-1]:
        nxt = cur.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            cur[part] = nxt
        cur = nxt
    cur[parts[-1]] = value
