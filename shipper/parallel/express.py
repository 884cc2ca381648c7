"""The express lane of a replay worker: common lines go from text to bulk items in C; and the
tail, which does the stages after parsing in C for documents any parser built (replay workers,
and the daemon's batches, whose documents carry their ids already).

Most lines of a syslog file are ordinary ("Mmm dd HH:MM:SS host tag[pid]: message", recognised by
no signature). For those, `shipper.parallel._express` does in one pass what the Python stages do
(the source's split and decoding, the parser's hot path, ids, recognition's gates and sendmail
fields, the sinks' encoders) and writes the items from the block's bytes, without building a line
or a document. It takes turns with the Python stages along a chunk:
each line it does not take, and the lines while a recognition context is open, go through them as
before, in order, so that the parser's, the ids' and the recogniser's state pass from one to the
other. Both give the same items, byte for byte (tests/unit/test_express_lines.py, test_express_docs.py).

Journal entries have a lane of their own (`JournalLane`): the C reader packs a batch of entries
into one bytes object (`journal_entries.read_packed`), and `_express.Plan.journal` writes the
items of the common entry from its fields, without the entry's dict or its document's; the others
are unpacked into dicts and go through `journal_doc` and the Python stages, in order
(tests/unit/test_express_journal.py). The lane keeps the boots' claims of the input
(`shipper.sources.journal_boots`) as the Python path does (tests/unit/test_replay_boots_ids.py).

Both lanes take a start of the service manager (`shipper.parallel.express_plans.STARTS`) that ends no troubled unit, which
recognition would drop, and note it for the block's check (`Nearby.lane`, _express_starts.c;
tests/unit/test_g3_lane_starts.py).

The lanes and the tail serve the sinks whose items they know how to write: Elasticsearch bulk
items, NDJSON lines and the local store's rows. With another sink, a time window, or without the C
extension, the worker uses the Python stages alone.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import orjson

from shipper.enrich.base import Enricher
from shipper.enrich.recognise import Recognise
from shipper.event import Doc
from shipper.ids import TAG_APART, IdAssigner, settled
from shipper.parse.journal_fields import JournalParser
from shipper.parse.syslog import SyslogParser
from shipper.parallel.express_plans import Form, Plans
from shipper.sinks.base import Encode
from shipper.sinks.bulk import DATASETS, Encoder
from shipper.sinks.ndjson import encode_lines
from shipper.sinks.rows import encode_rows
from shipper.sources.base import Origin, RawChunk
from shipper.sources.files import CHUNK_LINES, TextBlock, lines_chunk
from shipper.sources.journal_boots import BootClaims
from shipper.sources.journal_entries import Packed, native_reader

try:
    from shipper.parallel import _express
except ImportError:  # not built (setup.py builds it where it can): the Python stages do it all
    _express = None  # type: ignore[assignment]

NATIVE = _express is not None


ROW = "row"  # the local store's row (`shipper.sinks.rows`)
Route = dict[str, Form] | None | str  # per event.dataset; None: the document alone; or `ROW`


def routes(encoders: Mapping[str, Encode]) -> list[Route] | None:
    """How each sink's item is written, per event.dataset (None: the document alone, whatever its
    dataset; `ROW`: the local store's row), or None if a sink's items are not ones the lanes write."""
    out: list[Route] = []
    for encode in encoders.values():
        if isinstance(encode, Encoder):
            out.append({dataset: (r.action, b"}}\n" + r.splice) for dataset in DATASETS for r in [encode.route(dataset)]})
        elif encode is encode_lines:
            out.append(None)
        elif encode is encode_rows:
            out.append(ROW)
        else:
            return None
    return out


def line_forms(encoders: Mapping[str, Encode]) -> tuple[Form | str, ...] | None:
    """Each sink's form of a syslog line's item, for the line lane (see `routes`)."""
    shapes = routes(encoders)
    if shapes is None:
        return None
    return tuple(route["syslog"] if isinstance(route, dict) else (None, b"{") if route is None else route for route in shapes)


class Tail:
    """The stages after parsing, in C, for documents any parser built (`_express.Plan.docs`): ids,
    recognition's gates and prefilters with sendmail's fields, encoding. A document it does not
    take (one that passes a gate, has tags or an id already, a value orjson writes otherwise, ...),
    and every document while a recognition context is open, go through the Python stages, in
    order."""

    def __init__(self, plan: _express.Plan, routes: list[Route], recognise: Recognise) -> None:
        self._plan, self._routes, self._recognise = plan, routes, recognise
        self._message_ids = recognise.matcher.message_ids

    @classmethod
    def make(cls, recognise: Recognise, encoders: Mapping[str, Encode], plans: Plans | None = None) -> Tail | None:
        shapes = routes(encoders)
        if _express is None or shapes is None:
            return None
        return cls((plans or Plans(recognise)).get((), b""), shapes, recognise)

    def add(self, docs: list[Doc], ids: IdAssigner | None, outs: list[list[Any]], python: Callable[[list[Doc]], object],
            taken: Callable[[int], None]) -> None:
        """Documents the tail takes are appended to ``outs`` and counted with ``taken``; runs of
        the others go to ``python`` (the Python stages). Without ``ids`` the documents carry
        their ids already (the daemon's streams gave them), and one without is Python's."""
        plan, shapes, message_ids = self._plan, self._routes, self._message_ids
        i, n = 0, len(docs)
        while i < n:
            if not self._recognise.quiet():
                python(docs[i:])
                return
            stop, moved = plan.docs(docs, i, ids.live() if ids is not None else None, outs, shapes, message_ids)
            if ids is not None and moved is not None:
                ids.moved_to(moved)
            taken(stop - i)
            if stop == n:
                return
            i = max(stop + 1, plan.docs_scan(docs, stop + 1, shapes, message_ids, ids is None))
            python(docs[stop:i])


    def encode_linked(self, docs: list[Doc], recognise: Enricher, incidents: Enricher,
                      encoders: Sequence[Encode]) -> tuple[list[list[Any]], list[Doc]]:
        """What `Recognise`, `Incidents` and the encoders make of documents that carry their ids,
        the tail taking what it can: one list of items per encoder, and the documents recognition
        read (see `recognised`), linked (`Incidents` reads recognised documents only)."""
        pending = self.recognised(docs, recognise, len(encoders))
        if pending.read:
            pending.read = incidents.enrich(pending.read)
        return pending.fill(encoders), pending.read

    def recognised(self, docs: list[Doc], recognise: Enricher, sinks: int) -> Unfilled:
        """Documents that carry their ids, through `Recognise`: the tail writes the items of those
        it takes (for ``sinks`` encoders); the others (recognition read them: they are unparsed or
        recognised) are recognised in order and left for `Unfilled.fill`, once linked."""
        pending = Unfilled([[] for _ in range(sinks)], [], [])
        outs = pending.outs

        def python(run: list[Doc]) -> None:
            for doc in recognise.enrich(run):
                pending.places.append(len(outs[0]))
                pending.read.append(doc)
                for out in outs:
                    out.append(None)

        self.add(docs, None, outs, python, lambda count: None)
        return pending


@dataclass
class Unfilled:
    """What `Tail.recognised` made: items, with a place left for each document recognition read."""

    outs: list[list[Any]]  # one list of items per encoder
    places: list[int]  # where the items of `read` go
    read: list[Doc]

    def fill(self, encoders: Sequence[Encode]) -> list[list[Any]]:
        """The items, those of `read` encoded now."""
        if self.read:
            for out, encode in zip(self.outs, encoders):
                for i, item in zip(self.places, encode(self.read)):
                    out[i] = item
        return self.outs


class Express:
    """The lane for one input of a worker: built from the stages' own data."""

    def __init__(self, plan: _express.Plan, parser: SyslogParser, ids: IdAssigner, recognise: Recognise, piece: int) -> None:
        self._plan, self._parser, self._ids, self._recognise = plan, parser, ids, recognise
        self._piece = piece

    @classmethod
    def make(cls, parser: Any, ids: IdAssigner, recognise: Recognise, encoders: Mapping[str, Encode], piece: int,
             plans: Plans | None = None) -> Express | None:
        """The lane for a syslog parser's input, or None where it cannot serve (see the module);
        ``plans``: those made before for ``recognise`` (a worker's, kept from job to job)."""
        forms = line_forms(encoders)
        if _express is None or forms is None or not isinstance(parser, SyslogParser):
            return None
        path = parser.path
        log_head = b'"log":{"file":{"path":' + orjson.dumps(path) + b'},"offset":' if path is not None else b'"log":{"offset":'
        return cls((plans or Plans(recognise)).get(forms, log_head), parser, ids, recognise, piece)

    def lines(self, origin: Origin, block: TextBlock, cap: int, start: int, stop: int, outs: list[list[Any]],
              add: Callable[[list[Doc]], object], taken: Callable[[int], None]) -> None:
        """Read the lines of a text block from byte ``start`` to ``stop`` (see `lines_chunk`):
        lines the lane takes are appended to ``outs`` (one list per sink, in the encoders' order)
        and counted with ``taken``; the others go, in pieces of at most ``piece`` lines, through
        the parser and then ``add`` (the Python stages after parsing)."""
        data, first_offset = block.raw.data, block.raw.base + block.raw.dropped
        parser, ids, plan, piece = self._parser, self._ids, self._plan, self._piece
        minutes, nearby = parser.minutes, self._recognise.nearby
        pos = start
        learnt = -1  # the line whose minute was put in the parser's cache
        while pos < stop:
            if self._recognise.quiet():
                k, _ = plan.scan(data, pos, stop, cap, minutes, piece, nearby.lane())
            else:
                k = min(_express.cut(data, pos, piece)[0], stop)
            if k == pos and parser.waiting():  # undated first lines wait for this line's time: Python reads it
                k = _express.cut(data, pos, 1)[0]
            if k > pos:  # the Python stages, up to the next line the lane takes
                add(parser.parse(lines_chunk(origin, block, cap, pos, k)))
                pos = k
                continue
            held = parser.flush()  # the line at pos is no continuation: the held record is complete
            if held:
                add(held)
                if not self._recognise.quiet():
                    continue
            after, count, last_ts, moved = plan.run(data, pos, stop, first_offset, cap, minutes, ids.live(), outs, nearby.lane())
            ids.moved_to(moved)
            if count == 0 and learnt != pos:  # a minute not in the parser's cache yet
                parser.learn_minute(data[pos : pos + 15].decode())
                learnt = pos
                continue
            if count == 0:  # an impossible date: the Python stages read the line
                after = _express.cut(data, pos, 1)[0]
                add(parser.parse(lines_chunk(origin, block, cap, pos, after)))
            else:
                assert last_ts is not None
                parser.passed(last_ts)
                taken(count)
            pos = after

    def warm_up(self, origin: Origin, block: TextBlock, cap: int, sinks: int) -> None:
        """Read ``block`` (the end of the previous block) for the parser's and the recogniser's
        state it leaves; its items and ids are not kept (see `_aside`)."""
        with _aside(self):
            for begin, end, _ in regions(block, CHUNK_LINES):
                self.lines(origin, block, cap, begin, end, [[] for _ in range(sinks)], _recognised(self._recognise), _uncounted)


class JournalLane:
    """The lane for a journal input of a worker: entries packed by the C reader
    (`journal_entries.read_packed`) go to items in C (`_express.Plan.journal`) without a dict; the
    others (a field twice, a value that is not UTF-8, an odd stamp or PRIORITY, a known MESSAGE_ID,
    a gate or prefilter passed: see _express_journal.c), and every entry while a recognition
    context is open, are unpacked and go through the boots' claims, the parser and the Python
    stages, in order. An entry the boots' claims must decide (`BootClaims.fast`: a new boot, a
    second another boot took) is decided here, then taken by the lane (its id's key with its boot
    if it is apart)."""

    def __init__(self, plan: _express.Plan, routes: list[Route], parser: JournalParser, ids: IdAssigner,
                 boots: BootClaims, recognise: Recognise, piece: int) -> None:
        self._plan, self._routes, self._parser, self._ids, self._recognise = plan, routes, parser, ids, recognise
        self._boots, self._piece = boots, piece

    @classmethod
    def make(cls, parser: Any, ids: IdAssigner, recognise: Recognise, encoders: Mapping[str, Encode], piece: int,
             boots: BootClaims | None = None, plans: Plans | None = None) -> JournalLane | None:
        """The lane for a journal parser's input, or None where it cannot serve (see the module).
        ``boots``: the input's claims (by default, claims of its own over what it reads);
        ``plans``: as for `Express.make`."""
        shapes = routes(encoders)
        if _express is None or shapes is None or not isinstance(parser, JournalParser) or native_reader() is None:
            return None
        return cls((plans or Plans(recognise)).get((), b""), shapes, parser, ids, boots or BootClaims(), recognise, piece)

    def entries(self, origin: Origin, packed: bytes, outs: list[list[Any]], add: Callable[[list[Doc]], object],
                taken: Callable[[int], None]) -> None:
        """Read the packed entries: those the lane takes are appended to ``outs`` (one list per
        sink, in the encoders' order) and counted with ``taken``; the others go, in pieces of at
        most ``piece`` entries, through the boots' claims, the parser and then ``add`` (the Python
        stages after parsing). An entry the claims must decide is decided here, then taken."""
        plan, shapes, parser, ids, piece = self._plan, self._routes, self._parser, self._ids, self._piece
        boots, nearby = self._boots, self._recognise.nearby
        unpack = native_reader().unpack
        pos, size = 0, len(packed)
        decided = -1  # the claims' decision on the entry at pos, once made (1: apart, 0: not; -1: not yet)
        while pos < size:
            if self._recognise.quiet():
                k = plan.journal_scan(packed, pos, piece, shapes, nearby.lane())
            else:
                k = _express.cut_entries(packed, pos, piece)
            if k == pos:
                k, count, last_ts, moved = plan.journal(packed, pos, ids.live(), outs, shapes, boots.fast, decided,
                                                        nearby.lane())
                ids.moved_to(moved)
                if last_ts is not None:  # at least one entry taken
                    parser.passed(last_ts)
                    taken(count)
                    pos, decided = k, -1
                    continue
                k = _express.cut_entries(packed, pos, 1)  # not taken after all: the claims decide, or the Python path's
                if decided < 0:
                    marks: dict[int, tuple[str, ...]] = {}
                    boots.apart(unpack(packed, pos, k), marks)
                    decided = 1 if marks else 0
                    continue
            items, tags = unpack(packed, pos, k), dict[int, tuple[str, ...]]()
            if decided >= 0:  # (the one entry, decided already: an entry is decided once)
                tags = {0: (TAG_APART,)} if decided else {}
            else:
                boots.apart(items, tags)
            add(parser.parse(RawChunk(origin, "fields", items, tags=tags)))
            pos, decided = k, -1

    def warm_up(self, origin: Origin, packs: Iterable[Packed], sinks: int) -> None:
        """Read the entries before a segment for the parser's and the recogniser's state they
        leave; their items and ids are not kept (see `_aside`)."""
        with _aside(self):
            for packed in packs:
                self.entries(origin, packed.data, [[] for _ in range(sinks)], _recognised(self._recognise), _uncounted)


@contextmanager
def _aside(lane: Express | JournalLane) -> Iterator[None]:
    """A warm-up: what a worker reads before its block, to rebuild the state the block starts
    from. As with the Python stages (`Worker.run`), its documents are recognised without ids (the
    lane's ids go to an assigner of their own) and nothing of it is written or counted."""
    ids, lane._ids = lane._ids, IdAssigner()
    try:
        yield
    finally:
        lane._ids = ids


def _recognised(recognise: Recognise) -> Callable[[list[Doc]], object]:
    """What a warm-up does with the documents the Python stages parse: recognise them, without
    ids, as the stages after the ids see them (`shipper.ids.settled`)."""
    return lambda docs: recognise.enrich(settled(docs))


def _uncounted(count: int) -> None:
    """A warm-up's documents are not counted."""


def regions(block: TextBlock, size: int) -> Iterator[tuple[int, int, int]]:
    """A text block's lines in runs of ``size`` lines, as `block_chunks` cuts them into chunks:
    ``(start, stop, lines)``, with ``start`` and ``stop`` as `Express.lines` takes them."""
    data = block.raw.data
    start = 0
    while start <= len(data):
        stop, count = _express.cut(data, start, size)
        yield start, stop, count
        start = stop
