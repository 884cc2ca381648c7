"""Per stream (one file's content, one journal): its parser, its ids, and where to resume.

Ids are content-based with an occurrence number per second (`shipper.ids`): two identical lines
in one second are ``#0`` and ``#1``, also with lines of nearby seconds between them. Resuming
after the first of them would number the second line ``#0`` again, and the output would take it
for the first one: a lost line. So a checkpoint points at the first line of the oldest second
still counted: reading again from there gives every line after the checkpoint the id it would
have had. (A line read again before the checkpoint, whose second's count was started afresh by a
far line in between, comes out as its twin before that line, already stored.)

What was shipped already is not shipped again (an NDJSON file would hold it twice): a checkpoint
also says how far the output acknowledged (``shipped`` of `TextMark` and `JournalMark`), which is
kept beside the input's checkpoint (`shipper.daemon.delivered`) and handed to the stream of the
next run as ``delivered``. The documents read again before it are parsed and get their ids (that
rebuilds the counts), then go to ``again`` (recognition and linking read them: a cause read before
a restart still meets its failure after it), not with the documents to ship. A journal entry is
before the position when it has the position's ``seqnum_id`` and a number not above its
(sd_journal reads one writer's entries in that order); an entry of another writer is shipped again
rather than risk leaving out one never shipped. A read error about the entries of its chunk (some
read without some of their fields: a damaged file) comes after them, and is not shipped again
either while no entry after the position has come.

A journal writer's stream counts only its own entries' twins: the entries the follower marked
`TAG_APART` (a second another boot of their host took: `shipper.sources.journal_boots`) get their
boot in their id's key. The mark is taken off the chunk before parsing.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Callable, Collection

from shipper.event import TAG_READ_ERROR, Doc
from shipper.ids import IdAssigner
from shipper.parse.base import Parser
from shipper.sources.base import RawChunk, part_of
from shipper.sources.journal_boots import TAG_APART
from shipper.sources.journal_entries import about_entries_read
from shipper.sources.journal_header import cursor_number
from shipper.sources.live import JournalMark, TextMark

Again = Callable[[list[Doc]], None]  # takes the documents read again before ``delivered``


@dataclass
class Stream:
    parser: Parser
    # Where the output's acknowledgement stood when this run began: a text offset, a journal
    # cursor (None: nothing shipped before); and what takes the documents read again before it.
    delivered: int | str | None = None
    again: Again | None = None
    ids: IdAssigner = field(default_factory=IdAssigner)
    # second -> where reading again must start for it: how far along the stream (a text offset,
    # a journal entry's number) and the mark to resume at (the offset, the position before the entry)
    _firsts: dict[str, tuple[int, object]] = field(default_factory=dict)
    _before: JournalMark | None = None  # journal: position after the last event seen
    _entries: int = 0  # journal: events seen
    _shipped: int = 0  # text: the offset all the documents handed on end at
    _taken: int | None = None  # text: the offset after the last chunk taken (its lines are the parser's)
    _split_at: int | None = None  # text: ``delivered``, where the parser ends the record it holds (`_parse_text`)
    _shipped_cursor: str | None = None  # journal: the last entry handed on
    # Until documents after ``delivered`` come: the text offset, the journal's (seqnum_id, seqnum).
    _until_offset: int | None = None
    _until_entry: tuple[str, int] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.delivered, int):
            self._shipped = self._until_offset = self._split_at = self.delivered
        elif isinstance(self.delivered, str):
            self._shipped_cursor = self.delivered
            self._until_entry = cursor_number(self.delivered)

    def take(self, chunk: RawChunk) -> tuple[list[Doc], object | None]:
        """The chunk's documents to ship (with ids) and the checkpoint to register with them."""
        if chunk.kind == "fields":
            apart = _apart(chunk)
            docs = self.parser.parse(chunk)
            if self._before is None and isinstance(chunk.checkpoint, JournalMark):
                self._before = chunk.checkpoint
            return self._journal(docs, apart)
        docs = self._parse_text(chunk)
        if isinstance(chunk.checkpoint, tuple):  # (path, the offset after the chunk)
            self._taken = chunk.checkpoint[1]
        return self._text(docs, self._emitted(chunk, docs))

    def flush(self, shipped: int | None, journal: bool) -> tuple[list[Doc], object | None]:
        """What the parser still holds (the stream is idle or finished)."""
        docs = self.parser.flush()
        return self._journal(docs) if journal else self._text(docs, shipped)

    def flush_held(self) -> tuple[list[Doc], object | None]:
        """At a stop: the record the parser holds (a file's last line, which a next line could
        continue), shipped as it is; what was taken is then all shipped. A line that continues
        it, read after the next start, is a record of its own (`_parse_text`)."""
        return self.flush(self._taken, journal=False)

    def _parse_text(self, chunk: RawChunk) -> list[Doc]:
        """The chunk's documents. No record spans ``delivered``: the run that shipped up to there
        ended its records there (`flush_held`), so the parser ends the one it holds before the
        line at ``delivered`` (as then; the ids come out the same) and that line begins anew."""
        at, offsets = self._split_at, chunk.offsets
        if at is None or not offsets or offsets[-1] < at:
            return self.parser.parse(chunk)
        self._split_at = None
        i = bisect_left(offsets, at)
        before = self.parser.parse(part_of(chunk, 0, i)) if i else []
        return before + self.parser.flush() + self.parser.parse(part_of(chunk, i, len(offsets)))

    def _emitted(self, chunk: RawChunk, docs: list[Doc]) -> int | None:
        """Where the lines of the documents made of ``chunk`` end: where the record the parser
        holds begins, else where the chunk ends; None when none was made or it is not known."""
        if not docs:
            return None
        held = self.parser.held()
        if held is not None:
            offset = (held.get("log") or {}).get("offset")
        else:  # a text chunk's checkpoint is (path, the offset after it)
            offset = chunk.checkpoint[1] if isinstance(chunk.checkpoint, tuple) else None
        return offset if isinstance(offset, int) else None

    def _text(self, docs: list[Doc], shipped: int | None) -> tuple[list[Doc], TextMark | None]:
        self.ids.assign(docs)
        firsts = self._firsts
        last = None
        for doc in docs:
            log = doc.get("log")
            offset = log.get("offset") if log else None
            if offset is not None:
                firsts.setdefault(doc["@timestamp"][:19], (offset, offset))
                last = offset
        end = shipped if shipped is not None else last
        if end is not None:
            self._shipped = max(self._shipped, end)
        if self._until_offset is not None and docs:
            docs = self._text_again(docs, self._until_offset)
        resume = self._oldest()
        return docs, (TextMark(resume, self._shipped) if isinstance(resume, int) else None)

    def _text_again(self, docs: list[Doc], until: int) -> list[Doc]:
        """``docs`` after ``until``; those before it go to `again`."""
        n = 0
        for doc in docs:
            log = doc.get("log")
            offset = log.get("offset") if log else None
            if offset is None or offset >= until:
                self._until_offset = None
                break
            n += 1
        if n and self.again is not None:
            self.again(docs[:n])
        return docs[n:]

    def _journal(self, docs: list[Doc], apart: Collection[int] = ()) -> tuple[list[Doc], JournalMark | None]:
        self.ids.assign(docs, apart)
        firsts, before = self._firsts, self._before
        for doc in docs:
            self._entries += 1
            if before is not None:
                firsts.setdefault(doc["@timestamp"][:19], (self._entries, before))
            journald = doc.get("journald")
            if journald and journald.get("cursor"):
                before = _after(doc)
        self._before = before
        if self._until_entry is not None and docs:
            docs = self._journal_again(docs, self._until_entry)
        for doc in reversed(docs):
            journald = doc.get("journald")
            if journald and journald.get("cursor"):
                self._shipped_cursor = journald["cursor"]
                break
        resume = self._oldest()
        if not isinstance(resume, JournalMark):
            return docs, None
        return docs, JournalMark(resume.cursor, resume.time, shipped=self._shipped_cursor)

    def _journal_again(self, docs: list[Doc], until: tuple[str, int]) -> list[Doc]:
        """``docs`` but those of ``until``'s writer numbered up to it, which go to `again`; once
        one numbered after it comes, none is looked at any more."""
        writer, last = until
        fresh: list[Doc] = []
        again: list[Doc] = []
        for i, doc in enumerate(docs):
            journald = doc.get("journald")
            number = cursor_number(journald.get("cursor") or "") if journald else None
            if number is not None and number[0] == writer:
                if number[1] > last:
                    self._until_entry = None
                    fresh += docs[i:]
                    break
                again.append(doc)
            elif _about_entries_read(doc):  # (of the entries before it, read again: shipped with them)
                again.append(doc)
            else:
                fresh.append(doc)
        if again and self.again is not None:
            self.again(again)
        return fresh

    def _oldest(self) -> object | None:
        """Where reading again starts: at the first line of the oldest second still counted.
        Seconds no longer counted are forgotten (counted again, they start afresh)."""
        firsts = self._firsts
        kept = self.ids.kept()
        for second in [s for s in firsts if s not in kept]:
            del firsts[second]
        return min(firsts.values(), default=(0, None), key=lambda first: first[0])[1]


def _apart(chunk: RawChunk) -> set[int]:
    """The entries the follower marked `TAG_APART` (the mark taken off: it is no document's tag)."""
    apart = set()
    for i, tags in list(chunk.tags.items()) if chunk.tags else ():
        if TAG_APART in tags:
            apart.add(i)
            rest = tuple(t for t in tags if t != TAG_APART)
            if rest:
                chunk.tags[i] = rest
            else:
                del chunk.tags[i]
    return apart


def _about_entries_read(doc: Doc) -> bool:
    """A read error about entries of its chunk (`journal_entries.about_entries_read`)."""
    return TAG_READ_ERROR in doc.get("tags", ()) and about_entries_read(str(doc.get("message", "")))


def _after(doc: Doc) -> JournalMark:
    """The position after a journal entry's document (marks are made only where one is kept)."""
    return JournalMark(doc["journald"]["cursor"], doc["@timestamp"])
