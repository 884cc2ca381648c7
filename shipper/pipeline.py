"""Sources → parsers → enrichers → sinks, in batches, with acknowledgements.

Each input group (a file, a rotated set, a journal directory) is read in order and parsed by its
own parser; ids are assigned per group. Several groups are k-way merged by ``@timestamp`` so that
a failure in ``messages`` and its cause in ``maillog`` reach the enrichers in the order they
happened. Batches then pass through the enrichers and into every sink; the `AckTracker` learns
when each batch is durably taken. Where it can (the default enrichers, no time window, sinks of
bulk items or NDJSON lines), the C tail does recognition's prefilters and the encoding of the
common document (`shipper.parallel.express.Tail`), as in the daemon and the replay workers.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Protocol, Sequence, TypeVar

from shipper.acks import AckTracker
from shipper.enrich.base import Enricher
from shipper.enrich.incidents import Incidents
from shipper.enrich.recognise import Recognise
from shipper.event import TAG_TIMESTAMP_ZONE_IGNORED, TAG_TRUNCATED, TAG_UNPARSED, Batch, Doc
from shipper.ids import IdAssigner
from shipper.parallel.express import Tail
from shipper.parse.base import ParseContext, Parser
from shipper.progress import Progress, Silent
from shipper.sinks.base import Sink
from shipper.sources.base import Origin, Source, read_errors

BATCH_SIZE = 2000
# How many documents of one @timestamp a batch of several inputs takes past `BATCH_SIZE` to end
# with the whole of it; past that (a burst, lines whose stamps were inferred) it is cut there.
MOMENT_MAX = 8 * BATCH_SIZE

T = TypeVar("T")


class Group(Protocol):
    """One logical input: its sources are read one after the other (a rotated set, oldest first)."""

    source_id: str
    sources: list[Source]


ParserFactory = Callable[[Origin, ParseContext], Parser]


@dataclass
class Summary:
    counters: Counter[str] = field(default_factory=Counter)
    sinks: dict[str, Counter[str]] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.counters["read"] / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Window:
    """Keep documents with since <= @timestamp < until (stored-form strings compare as times)."""

    since: str | None = None
    until: str | None = None

    def apply(self, docs: list[Doc]) -> list[Doc]:
        if self.since is None and self.until is None:
            return docs
        lo, hi = self.since or "", self.until or "\uffff"
        return [d for d in docs if lo <= d["@timestamp"] < hi]


def read_group(
    group: Group, ctx: ParseContext, make_parser: ParserFactory, counters: Counter[str], progress: Progress
) -> Iterator[list[Doc]]:
    """Parsed documents of one group, with ids, in file order."""
    ids = IdAssigner()
    for source in group.sources:
        parser: Parser | None = None
        done = 0
        try:
            for chunk in source.chunks():
                if parser is None:
                    parser = make_parser(chunk.origin, ctx)
                counters["read"] += len(chunk.items)
                counters["read_errors"] += read_errors(chunk)
                docs = parser.parse(chunk)
                progress.update(chunk.progress - done)
                done = chunk.progress
                if docs:
                    ids.assign(docs)
                    yield docs
            if parser is not None:
                tail = parser.flush()
                if tail:
                    ids.assign(tail)
                    yield tail
        finally:
            source.close()


def merged(streams: Sequence[Iterator[list[Doc]]], size: int = BATCH_SIZE) -> Iterator[list[Doc]]:
    """K-way merge of several time-ordered streams by ``@timestamp``, re-batched (stable on ties).
    A batch ends with a whole @timestamp (up to `MOMENT_MAX` documents more): `Incidents` links the
    events of one @timestamp of several inputs causes first (`shipper.enrich.moment`), as parallel
    workers and `relink` do, which it can only do with all of them in one batch."""
    if len(streams) == 1:
        yield from streams[0]
        return
    flat = [itertools.chain.from_iterable(s) for s in streams]
    it = heapq.merge(*flat, key=_ts)
    batch = list(itertools.islice(it, size))
    while batch:
        last, more = batch[-1]["@timestamp"], 0
        for doc in it:
            if doc["@timestamp"] != last or more == MOMENT_MAX:
                yield batch
                batch = [doc, *itertools.islice(it, size - 1)]
                break
            batch.append(doc)
            more += 1
        else:
            yield batch
            return


def _ts(doc: Doc) -> str:
    return doc["@timestamp"]


Body = Callable[[AckTracker, Counter[str]], None]


def deliver_to(sinks: Sequence[Sink], body: Body, clock: Callable[[], float], first: Body | None = None) -> Summary:
    """Open the sinks, run ``body`` (it writes batches registered with the tracker and counts),
    flush and close the sinks; fail if a batch was never acknowledged. ``first`` runs before the
    sinks open, and writes nothing (a parallel replay's workers start on their first jobs while
    the sinks connect)."""
    summary = Summary()
    tracker = AckTracker(sinks=len(sinks))
    start = clock()
    try:
        if first is not None:
            first(tracker, summary.counters)
        for sink in sinks:
            sink.open(tracker.ack)
        body(tracker, summary.counters)
        for sink in sinks:
            sink.flush()
    finally:
        for sink in sinks:
            sink.close()
        summary.seconds = clock() - start
        summary.sinks = {s.name: Counter(s.counters) for s in sinks}
    if tracker.in_flight:
        raise RuntimeError(f"{tracker.in_flight} batches were never acknowledged by the sinks")
    return summary


@dataclass
class Pipeline:
    groups: Sequence[Group]
    ctx: ParseContext
    make_parser: ParserFactory
    enrichers: Sequence[Enricher]
    sinks: Sequence[Sink]
    window: Window = field(default_factory=Window)
    progress: Progress = field(default_factory=Silent)
    clock: Callable[[], float] = time.monotonic

    def run(self) -> Summary:
        def read(tracker: AckTracker, counters: Counter[str]) -> None:
            streams = [read_group(g, self.ctx, self.make_parser, counters, self.progress) for g in self.groups]
            for batch in self._enriched(merged(streams), counters):
                batch.seq = tracker.register(batch.source_id, batch.checkpoint)
                for sink in self.sinks:
                    sink.write(batch)

        return deliver_to(self.sinks, read, self.clock)

    def _enriched(self, batches: Iterable[list[Doc]], counters: Counter[str]) -> Iterator[Batch]:
        tail = self._tail()
        for docs in batches:
            docs = self.window.apply(docs)
            if tail is not None and docs:
                yield self._encoded(tail, docs, counters)
                continue
            for enricher in self.enrichers:
                docs = enricher.enrich(docs)
            if docs:
                yield Batch(self._count(docs, docs, counters))
        # At the end, what each enricher still holds passes through the enrichers after it.
        for i, enricher in enumerate(self.enrichers):
            held = enricher.flush()
            for later in self.enrichers[i + 1 :]:
                held = later.enrich(held) if held else held
            if held:
                yield Batch(self._count(held, held, counters))

    def _tail(self) -> Tail | None:
        """The stages after parsing in C where they can serve, as in the daemon
        (`shipper.parallel.express.Tail`): the default enrichers, no time window, sinks whose
        items the tail writes (Elasticsearch, NDJSON)."""
        if self.window != Window() or len(self.enrichers) != 2:
            return None
        recognise, incidents = self.enrichers
        if not isinstance(recognise, Recognise) or not isinstance(incidents, Incidents):
            return None
        return Tail.make(recognise, {s.name: s.encoder() for s in self.sinks})

    def _encoded(self, tail: Tail, docs: list[Doc], counters: Counter[str]) -> Batch:
        recognise, incidents = self.enrichers
        outs, read = tail.encode_linked(docs, recognise, incidents, [s.encoder() for s in self.sinks])
        self._count(outs[0], read, counters)  # what the tail took carries no tags and is not recognised
        return Batch([], encoded={s.name: out for s, out in zip(self.sinks, outs)})

    @staticmethod
    def _count(items: list[T], docs: list[Doc], counters: Counter[str]) -> list[T]:
        """Count ``items`` (one per document), and the unparsed, the truncated and those whose zone
        word was ignored among ``docs``."""
        counters["documents"] += len(items)
        unparsed = truncated = zone_ignored = 0
        for doc in docs:
            tags = doc.get("tags")
            if tags is not None:
                unparsed += TAG_UNPARSED in tags
                truncated += TAG_TRUNCATED in tags
                zone_ignored += TAG_TIMESTAMP_ZONE_IGNORED in tags
        counters["unparsed"] += unparsed
        counters["truncated"] += truncated
        counters[TAG_TIMESTAMP_ZONE_IGNORED] += zone_ignored
        return items
