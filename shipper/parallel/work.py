"""What a worker process does with one block: the stages of `shipper.pipeline` up to encoding.

Everything here must be picklable (jobs go to workers, results come back) and deterministic: the
same job from the same state gives the same result in any process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from shipper.enrich.nearby import Reads
from shipper.enrich.recognise import Recognise
from shipper.enrich.recognise import State as RecogniseState
from shipper.event import TAG_TIMESTAMP_ZONE_IGNORED, TAG_TRUNCATED, TAG_UNPARSED, Doc
from shipper.ids import Block as IdBlock
from shipper.ids import FRESH, IdAssigner, IdState, settled
from shipper.parallel.direct import Direct
from shipper.parallel.express import Express, JournalLane, Plans, Tail, regions
from shipper.parse.base import ParseContext, Parser
from shipper.parse.dispatch import make_parser
from shipper.pipeline import Window
from shipper.sinks.base import Encode
from shipper.sources.base import Origin, RawChunk, pieces, read_errors
from shipper.sources.files import CHUNK_LINES, TextBlock, block_chunks
from shipper.sources.journal_boots import NO_CLAIMS, BootClaims, Log, Snapshot
from shipper.sources.journal_segments import Segment, SegmentReaders, segment_chunks, segment_packs
from shipper.sources.journal_entries import Packed


@dataclass(frozen=True, slots=True)
class Setup:
    """What every worker needs, sent once when it starts."""

    ctx: ParseContext
    window: Window
    encoders: dict[str, Encode]  # sink name -> its encoder
    direct: Direct | None = None  # each worker sends its items to Elasticsearch itself


@dataclass(slots=True)
class State:
    """The state between two blocks: ``parser`` is None at the start of an input (a new parser)."""

    source: int  # index of the input in its group
    parser: tuple[Any, ...] | None
    ids: IdState
    recognise: RecogniseState
    boots: Snapshot = NO_CLAIMS  # a journal input's `BootClaims` (not in a start state: `Done.boots` is checked)


# Documents go through the stages a piece of a chunk at a time, so that a piece's documents are
# still in the CPU's caches when the next stage reads them (about 13% less CPU than 2,000 lines
# at a time); a chunk's pieces make one batch, as in one process.
PIECE = 256

# What a job reads: a block of text lines, a segment of journal files, or a prepared chunk (the
# item that reports a read error).
Block = TextBlock | Segment | RawChunk


@dataclass(frozen=True, slots=True)
class Job:
    number: int
    source: int
    origin: Origin
    block: Block
    cap: int = 0  # max_line_bytes of a text input
    warm: TextBlock | None = None  # the end of the previous text block, to rebuild the state
    init: State | None = None  # the state to start from (None: the start of everything)
    exact: bool = False  # ``init`` is the exact state (a block done again): no warm-up, ids too
    first: bool = False  # the input starts with this block: a new parser
    last: bool = False  # the input ends with this block: what the parser holds is emitted
    final: bool = False  # its group ends with this block: the recogniser is flushed too
    group: int = 0  # the group of inputs (`ParallelReplay.groups`) the block belongs to


@dataclass(slots=True)
class Part:
    """One batch: per sink one item per document, None where a document waits in ``pending``
    (recognised: the main process links it into an incident, then encodes it)."""

    items: dict[str, list[Any]]
    pending: list[tuple[int, Doc]] = field(default_factory=list)
    unparsed: int = 0
    truncated: int = 0  # documents tagged truncated (a line cut at max_line_bytes or where its input broke)
    zone_ignored: int = 0  # documents tagged timestamp_zone_ignored (a stamp's zone word not the context's zone's)
    size: int = 0  # documents

    def grow(self, count: int) -> None:
        """``count`` documents were added to ``items`` directly (the express lane)."""
        self.size += count

    def split(self) -> dict[str, list[Any]]:
        """Take out, per sink, the items of the documents that do not wait; the part keeps a place
        for each of the waiting ones only (``pending`` renumbered)."""
        plain = {}
        holes = [i for i, _ in self.pending]
        for name, items in self.items.items():
            plain[name] = _without(items, holes) if holes else items
            self.items[name] = [None] * len(holes)
        self.pending = [(k, doc) for k, (_, doc) in enumerate(self.pending)]
        return plain


@dataclass(slots=True)
class Done:
    """A job's result. Ids start afresh in a worker: ``ids_block`` (`IdAssigner.block`) and the
    end state's ids (packed: `IdAssigner.state`) are all the main process needs to check them
    against the previous block's end and to go on from there (`shipper.ids.joined`), or to do
    the next block again from the exact state."""

    number: int
    start: State  # the state the block was read from (after the warm-up)
    end: State
    ids_block: IdBlock = ((), {})
    parts: list[Part] = field(default_factory=list)
    read: int = 0  # input items (lines, entries)
    read_errors: int = 0  # items that report a read error (`sources.base.read_errors`)
    errors: list[str] = field(default_factory=list)  # journal read errors (reported at the end)
    reads: Reads = field(default_factory=Reads)  # what the block asked of the facts it started from (`Nearby.watch`)
    boots: Log = field(default_factory=dict)  # what the block decided of its host's boots (`BootClaims.watch`)


class Worker:
    """The stages, built once per process (the signature files are loaded once)."""

    def __init__(self, setup: Setup) -> None:
        self.setup = setup
        self.recognise = Recognise()
        self._fresh = self.recognise.state()
        self._plans = Plans(self.recognise)
        self._tail = Tail.make(self.recognise, setup.encoders, self._plans) if setup.window == Window() else None
        self._journal = SegmentReaders()

    def run(self, job: Job) -> Done:
        parser = make_parser(job.origin, self.setup.ctx)
        ids = IdAssigner(track=True)
        init = job.init
        self.recognise.restore(init.recognise if init is not None else self._fresh)
        if init is not None and init.parser is not None and init.source == job.source and not job.first:
            parser.restore(init.parser)
        start_ids = init.ids if init is not None and job.exact else FRESH
        ids.restore(start_ids)
        errors: list[str] = []
        boots = _claims(job)
        lane = self._lane(job, parser, ids, boots)
        warm, chunks = self._chunks(job, errors, lane)
        self._warm_up(job, parser, lane, warm, boots)
        start = State(job.source, None if job.first else parser.state(), start_ids, self.recognise.state())
        done = Done(job.number, start, start, errors=errors)
        self.recognise.nearby.watch()
        boots.watch()
        if isinstance(lane, Express) and isinstance(job.block, TextBlock):
            for begin, end, count in regions(job.block, CHUNK_LINES):  # the chunks of `block_chunks`
                done.read += count
                part = self._part()
                add = lambda docs, part=part: self._add(part, docs, ids)  # noqa: E731
                lane.lines(job.origin, job.block, job.cap, begin, end, list(part.items.values()), add, part.grow)
                self._keep(part, done)
        else:
            for batch in chunks:
                part = self._part()
                if isinstance(batch, Packed):
                    assert isinstance(lane, JournalLane)
                    done.read += batch.count
                    add = lambda docs, part=part: self._add(part, docs, ids)  # noqa: E731
                    lane.entries(job.origin, batch.data, list(part.items.values()), add, part.grow)
                else:
                    done.read += len(batch.items)
                    done.read_errors += read_errors(batch)
                    if batch.kind == "fields":
                        boots.apart(batch.items, batch.tags)
                    for piece in pieces(batch, PIECE):
                        self._add(part, parser.parse(piece), ids)
                self._keep(part, done)
        if job.last:
            self._keep(self._add(self._part(), parser.flush(), ids), done)
        if job.final:
            self._keep(self._add(self._part(), self.recognise.flush(), None), done)
        done.boots = boots.log()
        done.end = State(job.source, parser.state(), ids.state(), self.recognise.state(), boots.snapshot())
        done.ids_block = ids.block()
        done.reads = self.recognise.nearby.watched()
        return done

    def _warm_up(self, job: Job, parser: Parser, lane: Express | JournalLane | None, warm: Sequence[RawChunk | Packed],
                 boots: BootClaims) -> None:
        """Rebuild the parser's and the recogniser's state from what precedes the block (``warm``,
        or for a text block the end of the previous one); ids start afresh. The lanes read it too."""
        if isinstance(lane, Express):
            if job.warm is not None and not job.exact:
                lane.warm_up(job.origin, job.warm, job.cap, len(self.setup.encoders))
        elif isinstance(lane, JournalLane):
            lane.warm_up(job.origin, [p for p in warm if isinstance(p, Packed)], len(self.setup.encoders))
        else:
            for chunk in warm:
                assert isinstance(chunk, RawChunk)
                if chunk.kind == "fields":
                    boots.apart(chunk.items, chunk.tags)
                self.recognise.enrich(settled(parser.parse(chunk)))

    def _lane(self, job: Job, parser: Parser, ids: IdAssigner, boots: BootClaims | None = None
              ) -> Express | JournalLane | None:
        """The express lane for this job, where it can serve (`shipper.parallel.express`);
        ``boots``: the job's claims, which a journal lane keeps up to date."""
        if self.setup.window != Window():
            return None
        if isinstance(job.block, TextBlock):
            return Express.make(parser, ids, self.recognise, self.setup.encoders, PIECE, self._plans)
        if isinstance(job.block, Segment):
            return JournalLane.make(parser, ids, self.recognise, self.setup.encoders, PIECE, boots, self._plans)
        return None

    def _chunks(self, job: Job, errors: list[str], lane: Express | JournalLane | None
                ) -> tuple[Sequence[RawChunk | Packed], Iterable[RawChunk | Packed]]:
        """The chunks to warm up with (none where the text lane reads the previous block's end
        itself), and the job's own (a segment's packed for the journal lane)."""
        block = job.block
        if isinstance(block, RawChunk):
            return (), [block]
        if isinstance(block, Segment):
            read = segment_packs if isinstance(lane, JournalLane) else segment_chunks
            return read(job.origin, block, not job.exact, errors, self._journal)
        own = block_chunks(job.origin, block, job.cap)
        if job.warm is None or job.exact or lane is not None:
            return [], own
        return list(block_chunks(job.origin, job.warm, job.cap)), own

    def _part(self) -> Part:
        return Part({name: [] for name in self.setup.encoders})

    def _add(self, part: Part, docs: list[Doc], ids: IdAssigner | None) -> Part:
        """`Pipeline`'s steps for some documents, but `Incidents`: ids, window, recognition,
        encoding; the results are added to ``part``. The C tail takes what it can."""
        if ids is not None and docs and self._tail is not None:
            self._tail.add(docs, ids, list(part.items.values()), lambda some: self._stages(part, some, ids), part.grow)
            return part
        return self._stages(part, docs, ids)

    def _stages(self, part: Part, docs: list[Doc], ids: IdAssigner | None) -> Part:
        if ids is not None and docs:
            ids.assign(docs)
            docs = self.setup.window.apply(docs)
            docs = self.recognise.enrich(docs)
        if not docs:
            return part
        pending, plain = _sort_out(docs, part)
        for name, encode in self.setup.encoders.items():
            encoded = encode(plain)
            part.items[name] += _spread(encoded, [i for i, _ in pending], len(docs)) if pending else encoded
        part.pending += [(part.size + i, doc) for i, doc in pending]
        part.size += len(docs)
        return part

    @staticmethod
    def _keep(part: Part, done: Done) -> None:
        if part.size:
            done.parts.append(part)


def _claims(job: Job) -> BootClaims:
    """The boots' claims a job starts from: those its input had after the block before, fresh
    where the input starts (a syslog input's decide nothing)."""
    init = job.init
    same = init is not None and not job.first and init.source == job.source
    return BootClaims(snapshot=init.boots if same and init is not None else NO_CLAIMS)


def _sort_out(docs: list[Doc], part: Part) -> tuple[list[tuple[int, Doc]], list[Doc]]:
    """The recognised documents with their places, and the others; ``part`` counts the unparsed,
    the truncated and those whose zone word was ignored (as `Pipeline` counts them)."""
    pending: list[tuple[int, Doc]] = []
    plain: list[Doc] = []
    unparsed = truncated = zone_ignored = 0
    for i, doc in enumerate(docs):
        if "rootcause" in doc:
            pending.append((i, doc))
        else:
            plain.append(doc)
        tags = doc.get("tags")
        if tags is not None:
            unparsed += TAG_UNPARSED in tags
            truncated += TAG_TRUNCATED in tags
            zone_ignored += TAG_TIMESTAMP_ZONE_IGNORED in tags
    part.unparsed += unparsed
    part.truncated += truncated
    part.zone_ignored += zone_ignored
    return pending, plain


def _without(items: list[Any], holes: list[int]) -> list[Any]:
    """``items`` but those at the indices ``holes`` (ascending): copied a slice at a time, not item
    by item (a part has thousands of items and a few holes)."""
    out: list[Any] = []
    start = 0
    for hole in holes:
        out += items[start:hole]
        start = hole + 1
    out += items[start:]
    return out


def _spread(items: list[Any], holes: list[int], size: int) -> list[Any]:
    """``items`` laid out over ``size`` places, None at the indices ``holes``."""
    out: list[Any] = [None] * size
    it = iter(items)
    hole = set(holes)
    for i in range(size):
        if i not in hole:
            out[i] = next(it)
    return out
