"""What the text parsers share: the held multi-line record, inferred timestamps, unparsed lines.

A text parser turns each line into one of:

* a new *record* (a document that later continuation lines may be folded into),
* a *single* document nothing folds into (an unparsed line, a journalctl header line),
* a *continuation* of the open record (its ``message`` gets ``"\\n" + line``); with no open
  record it becomes an unparsed document instead.

The last record of a chunk is held back until the next chunk (or `flush`) shows whether more
lines continue it, so documents never change after they were returned.

A line without a time takes the previous record's (tagged ``timestamp_inferred``). Undated lines
at the start of an input (a pasted ``systemctl status`` block, a ``-- Logs begin at`` line,
comments) have none before them: they wait, in order, for the first dated document and take its
time (still tagged ``timestamp_inferred``). Only when none comes within `LEADING_DOCS` documents
or `LEADING_CHARS` characters, or the input ends (`flush`), do they take the file's mtime (1970
without one), as every undated line did before.
"""

from __future__ import annotations

import copy
import gc
from contextlib import contextmanager
from typing import Any, ClassVar, Iterator

from shipper.event import TAG_META, TAG_TIMESTAMP_INFERRED, TAG_UNPARSED, Doc, add_tag
from shipper.parse.base import ParseContext
from shipper.parse.timestamps import FALLBACK_TIMESTAMP, from_epoch
from shipper.sources.base import Origin, RawChunk

# Tags the parsers add besides those in shipper.event.
# @timestamp names a local time that does not exist (the hour a change to summer time skips): read
# with the offset before the change (shipper/parse/localtime.py), the event is tagged so.
TAG_TIMESTAMP_NONEXISTENT = "timestamp_nonexistent"

# The most an input's undated first lines wait for a dated one (memory stays bounded).
LEADING_DOCS = 256
LEADING_CHARS = 256 * 1024


class TextParser:
    """Base of the line parsers: state kept across chunks, and the documents built for odd lines."""

    DATASET: ClassVar[str]

    def __init__(self, origin: Origin, ctx: ParseContext) -> None:
        self._origin = origin
        self._ctx = ctx
        self._path = origin.path
        # The @timestamp of a line that has none: the previous record's, else the file's mtime.
        self._last_ts = from_epoch(origin.mtime) if origin.mtime is not None else FALLBACK_TIMESTAMP
        self._held: Doc | None = None  # the last record, open for continuation lines
        # Undated documents of the input's start, waiting for a dated one (see the module); None
        # once a dated line was read or a document given (or `passed` said lines were read elsewhere).
        self._leading: list[Doc] | None = []
        self._leading_chars = 0  # the characters of their messages
        self._fields_parser: Any = None

    def parse(self, chunk: RawChunk) -> list[Doc]:
        if chunk.kind != "text":
            docs = self._fields_chunk(chunk)
        else:
            with gc_paused():
                docs = self._parse_lines(chunk)
        return docs if self._leading is None else self._lead(docs)

    def _parse_lines(self, chunk: RawChunk) -> list[Doc]:
        raise NotImplementedError

    def flush(self) -> list[Doc]:
        held, self._held = self._held, None
        docs = [held] if held is not None else []
        if self._leading is not None and (docs or self._leading):  # the first document given
            # The input ended (or is idle) before a dated line: the mtime, unless the held record has a time.
            docs = self._release(held["@timestamp"] if held is not None and _dated(held) else None) + docs
        return docs

    def held(self) -> Doc | None:
        return self._held

    def state(self) -> tuple[Any, ...]:
        """What decides how the next lines are parsed (caches left out): the parallel replay
        compares it between worker processes and restores it (`restore`). A copy: the held
        record changes once it is returned, the waiting first lines get their time."""
        return (copy.deepcopy(self._held), self._last_ts, copy.deepcopy(self._leading))

    def restore(self, state: tuple[Any, ...]) -> None:
        """Take ``state`` (a copy of its held record: lines that continue it change this one)."""
        held, self._last_ts, leading = state
        self._held = copy.deepcopy(held)
        self._leading = copy.deepcopy(leading)
        self._leading_chars = sum(len(doc["message"]) for doc in leading or ())

    def _lead(self, docs: list[Doc]) -> list[Doc]:
        """While nothing was given yet: hold undated documents until the first dated one (among
        ``docs``, or the held record), then give them with its time; past the bounds, as they are."""
        waiting = self._leading
        assert waiting is not None
        for i, doc in enumerate(docs):
            if _dated(doc):
                waiting += docs[:i]
                return self._release(doc["@timestamp"]) + docs[i:]
        waiting += docs
        self._leading_chars += sum(len(doc["message"]) for doc in docs)
        held = self._held
        if held is not None and _dated(held):
            return self._release(held["@timestamp"])
        if len(waiting) > LEADING_DOCS or self._leading_chars > LEADING_CHARS:
            return self._release(None)
        return []

    def _release(self, stamp: str | None) -> list[Doc]:
        """The waiting documents, given ``stamp`` (None: they keep the mtime they were made with);
        from now on nothing waits."""
        waiting, self._leading, self._leading_chars = self._leading or [], None, 0
        if stamp is not None:
            for doc in waiting:
                doc["@timestamp"] = stamp
        return waiting

    def _log(self, offset: int | None) -> dict[str, Any]:
        log: dict[str, Any] = {}
        if self._path is not None:
            log["file"] = {"path": self._path}
        if offset is not None:
            log["offset"] = offset
        return log

    def _single(self, line: str, offset: int | None, *tags: str) -> Doc:
        """A document for a line that is not a log record: the whole line, the inferred timestamp."""
        doc: Doc = {
            "@timestamp": self._last_ts,
            "message": line,
            "event": {"dataset": self.DATASET, "kind": "event"},
            "tags": [*tags, TAG_TIMESTAMP_INFERRED],
        }
        log = self._log(offset)
        if log:
            doc["log"] = log
        return doc

    def _unparsed(self, line: str, offset: int | None) -> Doc:
        return self._single(line, offset, TAG_UNPARSED)

    def _start(self) -> tuple[list[Doc], Doc | None]:
        """The output list (with the held record first) and the open record at a chunk's start."""
        held, self._held = self._held, None
        return ([held], held) if held is not None else ([], None)

    def _end(self, out: list[Doc], record: Doc | None) -> list[Doc]:
        """Hold the open record back: the next chunk may continue it."""
        if record is not None and out and out[-1] is record:
            self._held = out.pop()
        return out

    def _fields_chunk(self, chunk: RawChunk) -> list[Doc]:
        """Journal entries sent to a text parser (a misrouted stream) are still parsed, not lost."""
        if self._fields_parser is None:
            from shipper.parse.journal_fields import JournalParser

            self._fields_parser = JournalParser(self._origin, self._ctx)
        docs: list[Doc] = self._fields_parser.parse(chunk)
        return docs


def add_item_tags(doc: Doc, tags: tuple[str, ...]) -> None:
    for tag in tags:
        add_tag(doc, tag)


def _dated(doc: Doc) -> bool:
    """Whether the document's @timestamp was read from its line (not inferred)."""
    return TAG_TIMESTAMP_INFERRED not in doc.get("tags", ())


def is_record(doc: Doc) -> bool:
    """A parsed record (continuation lines may fold into it), not an unparsed or meta line."""
    tags = doc.get("tags")
    return not tags or (TAG_UNPARSED not in tags and TAG_META not in tags)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a chunk is parsed.

    Documents are trees of str/int/dict/list (no reference cycles), so the collector finds no
    garbage among them; but the thousands of new dicts a chunk creates trigger it dozens of times,
    which costs about a third of the syslog parser's time. Re-enabled on exit (even on error),
    and left alone if the caller had already disabled it.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
