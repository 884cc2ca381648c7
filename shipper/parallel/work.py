"""What a worker process does with one block: the stages of `shipper.pipeline` up to encoding.

Everything here must be picklable (jobs go to workers, results come back) and deterministic: the
same job from the same state gives the same result in any process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shipper.enrich.recognise import Recognise
from shipper.event import TAG_UNPARSED, Doc, IdAssigner
from shipper.parse.base import ParseContext
from shipper.parse.dispatch import make_parser
from shipper.parse.syslog import SyslogParser
from shipper.pipeline import Window
from shipper.sinks.base import Encode
from shipper.sources.base import Origin, RawChunk
from shipper.sources.files import TextBlock, block_chunks


@dataclass(frozen=True, slots=True)
class Setup:
    """What every worker needs, sent once when it starts."""

    ctx: ParseContext
    window: Window
    encoders: dict[str, Encode]  # sink name -> its encoder


@dataclass(slots=True)
class State:
    """The state between two blocks: ``parser`` is None at the start of an input (a new parser)."""

    source: int  # index of the input in its group
    parser: tuple[Any, ...] | None
    ids: tuple[str, dict[str, int]]
    recognise: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Job:
    number: int
    source: int
    origin: Origin
    cap: int  # max_line_bytes of the input
    block: TextBlock | RawChunk  # a block of lines, or the item that reports a read error
    warm: TextBlock | None = None  # the end of the input's previous block, to rebuild the state
    init: State | None = None  # the state to start from (None: the start of everything)
    last: bool = False  # the input ends with this block: what the parser holds is emitted
    final: bool = False  # the whole replay ends with this block: the recogniser is flushed too


@dataclass(slots=True)
class Part:
    """One batch: per sink one item per document, None where a document waits in ``pending``
    (recognised: the main process links it into an incident, then encodes it)."""

    items: dict[str, list[Any]]
    pending: list[tuple[int, Doc]]
    unparsed: int


@dataclass(slots=True)
class Done:
    number: int
    start: State  # the state the block was read from (after the warm-up)
    end: State
    parts: list[Part] = field(default_factory=list)
    read: int = 0  # input items (lines)


class Worker:
    """The stages, built once per process (the signature files are loaded once)."""

    def __init__(self, setup: Setup) -> None:
        self.setup = setup
        self.recognise = Recognise()
        self._fresh = self.recognise.state()

    def run(self, job: Job) -> Done:
        parser = make_parser(job.origin, self.setup.ctx)
        assert isinstance(parser, SyslogParser), "only syslog text is read in parallel"
        ids = IdAssigner()
        init = job.init
        self.recognise.restore(init.recognise if init is not None else self._fresh)
        if init is not None:
            ids.restore(init.ids)
            if init.parser is not None and init.source == job.source:
                parser.restore(init.parser)
        if job.warm is not None:
            for chunk in block_chunks(job.origin, job.warm, job.cap):
                docs = parser.parse(chunk)
                ids.assign(docs)
                self.recognise.enrich(docs)
        start = self._state(job, parser, ids, fresh=job.warm is None and (init is None or init.source != job.source))
        done = Done(job.number, start, start)
        chunks = [job.block] if isinstance(job.block, RawChunk) else block_chunks(job.origin, job.block, job.cap)
        for chunk in chunks:
            done.read += len(chunk.items)
            self._part(parser.parse(chunk), ids, done)
        if job.last:
            self._part(parser.flush(), ids, done)
        if job.final:
            self._part(self.recognise.flush(), None, done)
        done.end = self._state(job, parser, ids, fresh=False)
        return done

    def _state(self, job: Job, parser: SyslogParser, ids: IdAssigner, *, fresh: bool) -> State:
        return State(job.source, None if fresh else parser.state(), ids.state(), self.recognise.state())

    def _part(self, docs: list[Doc], ids: IdAssigner | None, done: Done) -> None:
        """`Pipeline`'s steps for one batch, but `Incidents`: ids, window, recognition, encoding."""
        if not docs:
            return
        if ids is not None:
            ids.assign(docs)
            docs = self.setup.window.apply(docs)
            docs = self.recognise.enrich(docs)
        if not docs:
            return
        pending, plain, unparsed = _sort_out(docs)
        items: dict[str, list[Any]] = {}
        for name, encode in self.setup.encoders.items():
            encoded = encode(plain)
            items[name] = _spread(encoded, [i for i, _ in pending], len(docs)) if pending else encoded
        done.parts.append(Part(items, pending, unparsed))


def _sort_out(docs: list[Doc]) -> tuple[list[tuple[int, Doc]], list[Doc], int]:
    """The recognised documents with their places, the others, and how many are unparsed."""
    pending: list[tuple[int, Doc]] = []
    plain: list[Doc] = []
    unparsed = 0
    for i, doc in enumerate(docs):
        if "rootcause" in doc:
            pending.append((i, doc))
        else:
            plain.append(doc)
        tags = doc.get("tags")
        if tags is not None and TAG_UNPARSED in tags:
            unparsed += 1
    return pending, plain, unparsed


def _spread(items: list[Any], holes: list[int], size: int) -> list[Any]:
    """``items`` laid out over ``size`` places, None at the indices ``holes``."""
    out: list[Any] = [None] * size
    it = iter(items)
    hole = set(holes)
    for i in range(size):
        if i not in hole:
            out[i] = next(it)
    return out
