"""The one event type that flows through every stage, and its deterministic id.

An event is an ECS-shaped document: a plain nested ``dict`` (``doc["host"]["name"]``), exactly the
JSON that is stored or indexed. Plain dicts keep the hot path cheap (no per-event objects) and make
the document self-describing. Stages exchange `Batch` objects, never single events.

Invariants every stage keeps (tests check them):

* ``@timestamp`` is UTC, formatted ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (fixed width, so comparing the
  strings orders events by time; the k-way merge relies on this).
* ``message`` is a ``str`` (never bytes); the raw text of an unparsed line is kept there.
* ``event.id`` is set by `IdAssigner` before a batch reaches the sinks.
* An entry that could not be parsed carries the tag ``unparsed``; it is never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from hashlib import blake2b
from typing import Any

Doc = dict[str, Any]

TAG_UNPARSED = "unparsed"
TAG_TRUNCATED = "truncated"
TAG_INVALID_UTF8 = "invalid_utf8"
TAG_TIMESTAMP_INFERRED = "timestamp_inferred"  # @timestamp is the previous record's (or mtime, or 1970)
TAG_META = "meta"  # a line about the dump, not a log entry (journalctl's "-- Boot ... --")
TAG_READ_ERROR = "read_error"  # an input broke here (truncated archive, I/O error); the item says where


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


def _digest(text: str) -> str:
    """128-bit BLAKE2b of ``text`` as 32 hex digits (hexdigest is the cheapest text form in C)."""
    try:
        data = text.encode()
    except UnicodeEncodeError:  # a lone surrogate (undecodable bytes kept by surrogateescape)
        data = text.encode("utf-8", "surrogatepass")
    return blake2b(data, digest_size=16).hexdigest()


def content_key(doc: Doc, second: str) -> str:
    """What an event's id is made of: host, ``second`` (the @timestamp's first 19 characters),
    process name and PID, message (and the container, for console captures that name one),
    joined by \x1f."""
    host = doc.get("host")
    proc = doc.get("process")
    name = host.get("name", "") if host else ""
    if proc is not None:
        key = f"{name}\x1f{second}\x1f{proc.get('name', '')}\x1f{proc.get('pid', '')}\x1f{doc.get('message', '')}"
    else:
        key = f"{name}\x1f{second}\x1f\x1f\x1f{doc.get('message', '')}"
    container = doc.get("container")
    # Two containers logging the same text in the same second are two events.
    return f"{key}\x1f{container.get('name', '')}" if container else key


@dataclass
class IdAssigner:
    """Gives each event a deterministic id from its *content*, not from where it was read.

    The id hashes `content_key`, plus the occurrence number of that same content within the
    second (two identical lines in one second stay two events). So the same line read from
    ``maillog.1`` and later from ``maillog.2.gz``, or from the journal and from
    ``/var/log/messages`` (ForwardToSyslog), gets the same id and is stored once. One assigner
    per input stream keeps the occurrence counts.
    """

    _second: str = ""
    _seen: dict[str, int] = field(default_factory=dict)  # first occurrence's id -> occurrences
    # With ``track_first``, the first second's ids are kept when the second first changes (the
    # parallel replay checks that a block's first second shares none with the previous block's).
    track_first: bool = False
    first: tuple[str, dict[str, int]] | None = None

    def assign(self, docs: list[Doc]) -> None:
        seen = self._seen
        current = self._second
        track = self.track_first and self.first is None  # the first second's ids are still to keep
        for doc in docs:
            event = doc.get("event")
            if event is None:
                event = doc["event"] = {}
            elif "id" in event:
                continue
            second = doc.get("@timestamp", "")[:19]
            if second != current:
                if track and current:
                    self.first = (current, dict(seen))
                    track = False
                current = second
                seen.clear()
            key = content_key(doc, second)
            first = _digest(key)
            n = seen.get(first)
            if n is None:
                seen[first] = 1
                event["id"] = first
            else:
                seen[first] = n + 1
                event["id"] = _digest(f"{key}\x1f{n}")
        self._second = current

    def live(self) -> tuple[str, dict[str, int], bool]:
        """For the express lane, which assigns ids as `assign` does (shipper/parallel/_express.c):
        the current second, the counts themselves (not a copy), and whether the first second is
        still to be kept. It reports back with `moved_to`."""
        return self._second, self._seen, self.track_first and self.first is None

    def moved_to(self, second: str, first: tuple[str, dict[str, int]] | None) -> None:
        self._second = second
        if first is not None:
            self.first = first

    def state(self) -> tuple[str, dict[str, int]]:
        """What decides the next ids: the current second and the contents seen in it (a copy)."""
        return self._second, dict(self._seen)

    def restore(self, state: tuple[str, dict[str, int]]) -> None:
        self._second, self._seen = state[0], dict(state[1])


def derived_id(parent_id: str, part: str) -> str:
    """The id of an event derived from another (one event per failed bootstrap check)."""
    return _digest(f"{parent_id}\x1e{part}")
