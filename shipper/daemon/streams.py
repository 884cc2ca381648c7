"""Per stream (one file's content, one journal): its parser, its ids, and where to resume.

Ids are content-based with an occurrence number inside each second (`IdAssigner`): two identical
lines in one second are ``#0`` and ``#1``. Resuming in the middle of such a second would number
the second line ``#0`` again, and the output would take it for the first one: a lost line. So a
checkpoint never points into a second: it points at the first event of the last second-run seen
(where the assigner started counting afresh), and reading again from there gives every event its
old id; what was shipped already is recognised by the output and not stored twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shipper.event import Doc, IdAssigner
from shipper.parse.base import Parser
from shipper.sources.base import RawChunk
from shipper.sources.live import JournalMark, TextMark


@dataclass
class Stream:
    parser: Parser
    ids: IdAssigner = field(default_factory=IdAssigner)
    _second: str = ""
    _resume: object | None = None  # position before the first event of the current second-run
    _before: JournalMark | None = None  # journal: position after the last event seen
    _shipped: int = 0  # text: offset of the last event handed on

    def take(self, chunk: RawChunk) -> tuple[list[Doc], object | None]:
        """The chunk's documents (with ids) and the checkpoint to register with them."""
        docs = self.parser.parse(chunk)
        if chunk.kind == "fields":
            if self._before is None and isinstance(chunk.checkpoint, JournalMark):
                self._before = chunk.checkpoint
            return docs, self._journal(docs)
        return docs, self._text(docs, None)

    def flush(self, shipped: int | None, journal: bool) -> tuple[list[Doc], object | None]:
        """What the parser still holds (the stream is idle or finished)."""
        docs = self.parser.flush()
        return docs, (self._journal(docs) if journal else self._text(docs, shipped))

    def _text(self, docs: list[Doc], shipped: int | None) -> TextMark | None:
        self.ids.assign(docs)
        for doc in docs:
            log = doc.get("log")
            offset = log.get("offset") if log else None
            if offset is None:
                continue
            second = doc["@timestamp"][:19]
            if second != self._second:
                self._second, self._resume = second, offset
            self._shipped = offset
        if shipped is not None:
            self._shipped = max(self._shipped, shipped)
        if not isinstance(self._resume, int):
            return None
        return TextMark(self._resume, self._shipped)

    def _journal(self, docs: list[Doc]) -> JournalMark | None:
        self.ids.assign(docs)
        second, last = self._second, None  # last: the latest document with a cursor
        for doc in docs:
            if doc["@timestamp"][:19] != second:
                second, self._resume = doc["@timestamp"][:19], _after(last) if last is not None else self._before
            journald = doc.get("journald")
            if journald and journald.get("cursor"):
                last = doc
        self._second = second
        if last is not None:
            self._before = _after(last)
        return self._resume if isinstance(self._resume, JournalMark) else None


def _after(doc: Doc) -> JournalMark:
    """The position after a journal entry's document (marks are made only where one is kept)."""
    return JournalMark(doc["journald"]["cursor"], doc["@timestamp"])
