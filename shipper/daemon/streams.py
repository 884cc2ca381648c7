"""Per stream (one file's content, one journal): its parser, its ids, and where to resume.

Ids are content-based with an occurrence number per second (`shipper.ids`): two identical lines
in one second are ``#0`` and ``#1``, also with lines of nearby seconds between them. Resuming
after the first of them would number the second line ``#0`` again, and the output would take it
for the first one: a lost line. So a checkpoint points at the first line of the oldest second
still counted: reading again from there gives every line after the checkpoint the id it would
have had; what was shipped already is recognised by the output and not stored twice. (A line
read again before the checkpoint, whose second's count was started afresh by a far line in
between, comes out as its twin before that line, already stored.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shipper.event import Doc
from shipper.ids import IdAssigner
from shipper.parse.base import Parser
from shipper.sources.base import RawChunk
from shipper.sources.live import JournalMark, TextMark


@dataclass
class Stream:
    parser: Parser
    ids: IdAssigner = field(default_factory=IdAssigner)
    # second -> where reading again must start for it: how far along the stream (a text offset,
    # a journal entry's number) and the mark to resume at (the offset, the position before the entry)
    _firsts: dict[str, tuple[int, object]] = field(default_factory=dict)
    _before: JournalMark | None = None  # journal: position after the last event seen
    _entries: int = 0  # journal: events seen
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
        firsts = self._firsts
        for doc in docs:
            log = doc.get("log")
            offset = log.get("offset") if log else None
            if offset is not None:
                firsts.setdefault(doc["@timestamp"][:19], (offset, offset))
                self._shipped = offset
        if shipped is not None:
            self._shipped = max(self._shipped, shipped)
        resume = self._oldest()
        return TextMark(resume, self._shipped) if isinstance(resume, int) else None

    def _journal(self, docs: list[Doc]) -> JournalMark | None:
        self.ids.assign(docs)
        firsts, before = self._firsts, self._before
        for doc in docs:
            self._entries += 1
            if before is not None:
                firsts.setdefault(doc["@timestamp"][:19], (self._entries, before))
            journald = doc.get("journald")
            if journald and journald.get("cursor"):
                before = _after(doc)
        self._before = before
        resume = self._oldest()
        return resume if isinstance(resume, JournalMark) else None

    def _oldest(self) -> object | None:
        """Where reading again starts: at the first line of the oldest second still counted.
        Seconds no longer counted are forgotten (counted again, they start afresh)."""
        firsts = self._firsts
        kept = self.ids.kept()
        for second in [s for s in firsts if s not in kept]:
            del firsts[second]
        return min(firsts.values(), default=(0, None), key=lambda first: first[0])[1]


def _after(doc: Doc) -> JournalMark:
    """The position after a journal entry's document (marks are made only where one is kept)."""
    return JournalMark(doc["journald"]["cursor"], doc["@timestamp"])
