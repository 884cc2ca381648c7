"""The main process of a parallel replay: reads blocks, keeps results in order, links, writes.

`ParallelReplay.run` does what `shipper.pipeline.Pipeline.run` does for one group of syslog text
inputs, with the same batches and documents, but parsing, ids, recognition and encoding run in
worker processes (`shipper.parallel.work`). See `shipper.parallel` for how the state that lines
carry from one block to the next is rebuilt and checked.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterator, Sequence

from shipper.acks import AckTracker
from shipper.enrich.base import Enricher
from shipper.event import Batch
from shipper.parallel.direct import Commit, Direct, Finish
from shipper.parallel.pool import DEPTH, Workers
from shipper.parallel.work import Block, Done, Job, Part, Setup, State, Worker
from shipper.parse.base import ParseContext
from shipper.pipeline import Group, Summary, Window, deliver_to
from shipper.progress import Progress, Silent
from shipper.sinks.base import Sink
from shipper.sources.files import TextBlock, TextSource
from shipper.sources.journal import JournalSource, Segment, error_chunk
from shipper.sources.lines import RawBlock

WARM_LINES = 64  # lines of the previous block a worker reads first to rebuild the state
WARM_ENTRIES = 64  # the same for journal entries
# Journal entries per job. Each job costs a search for the segment's bounds, and the ids of its
# first and last second go to the main process (37 KB each at 1,000 entries a second). A worker
# holds the items of `DEPTH` segments (about 5 MB each) until the main process has taken them.
# 1M entries into the bench endpoint: 3.7, 3.4 and 3.1 s with 2,000, 4,000 and 8,000 entries,
# at 151, 170 and 204 MB of PSS (bench/README.md).
SEGMENT_ENTRIES = 4000
MIN_PARALLEL_BYTES = 8 << 20  # below this (about 60k lines, 0.5 s), starting workers costs more than it saves


def eligible(groups: Sequence[Group]) -> bool:
    """One group of syslog text inputs (files, rotated sets, archives, stdin) or of journal files
    can be replayed in parallel; other formats and several groups merged by time are read by one
    process."""
    return len(groups) == 1 and all(
        (isinstance(s, TextSource) and s.origin.format == "syslog") or isinstance(s, JournalSource)
        for s in groups[0].sources
    )


def worth_it(groups: Sequence[Group]) -> bool:
    """Enough input to repay the workers' start (an input of unknown size counts as enough)."""
    sizes = [s.total() for g in groups for s in g.sources]
    return any(size is None for size in sizes) or sum(s or 0 for s in sizes) >= MIN_PARALLEL_BYTES


@dataclass
class ParallelReplay:
    group: Group
    ctx: ParseContext
    incidents: Enricher  # runs here, in order, on the recognised documents; workers recognise
    sinks: Sequence[Sink]
    workers: int
    window: Window = field(default_factory=Window)
    progress: Progress = field(default_factory=Silent)
    clock: Callable[[], float] = time.monotonic
    _latest: State | None = field(default=None, init=False)  # the newest accepted end state
    _consumed: dict[int, int] = field(default_factory=dict, init=False)  # input -> bytes reported
    _local: Worker | None = field(default=None, init=False)  # for blocks done again
    _errors: list[str] = field(default_factory=list, init=False)  # the input's read errors so far
    _direct: Direct | None = field(default=None, init=False)  # set by `run`
    _sent: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter), init=False)  # by workers

    def run(self) -> Summary:
        self._direct = direct = _direct(self.sinks, self.workers)
        if direct is not None:  # the workers use the official client: imported before the fork, shared
            import shipper.sinks.es_client  # noqa: F401, PLC0415
        workers = Workers(self.workers, replace(self._setup(), direct=direct))
        try:
            summary = deliver_to(self.sinks, lambda tracker, counters: self._run(workers, tracker, counters), self.clock)
        finally:
            workers.close()
            for source in self.group.sources:
                source.close()
        for name, counters in self._sent.items():  # what the workers' own sinks did
            summary.sinks[name].update(counters)
        return summary

    def _run(self, workers: Workers, tracker: AckTracker, counters: Counter[str]) -> None:
        """Jobs go to the workers in turn, up to `DEPTH` each; results are taken in job
        order. A worker gets its next job as soon as a result is taken, before that result is
        written, so writing overlaps the workers' parsing."""
        jobs = self._jobs()
        busy: deque[tuple[int, Job]] = deque()
        for worker in itertools.islice(itertools.cycle(range(len(workers))), DEPTH * len(workers)):
            job = next(jobs, None)
            if job is None:
                break
            workers.send(worker, job)
            busy.append((worker, job))
        expected: State | None = None
        direct = self._direct
        while busy:
            worker, job = busy.popleft()
            done: Done = workers.receive(worker)
            end = done.end if expected is None else _check(job, done, expected)
            if direct is not None:  # the worker sends the result's items, or drops them (done again here)
                workers.send(worker, Commit(job.number, end is not None))
            following = next(jobs, None)
            if following is not None:
                workers.send(worker, following)
                busy.append((worker, following))
            expected = self._take(job, done, end, expected, tracker, counters)
        tail = self.incidents.flush()
        if tail:
            self._write({s.name: s.encoder()(tail) for s in self.sinks}, len(tail), 0, tracker, counters)
        if direct is not None:  # the workers settle what they sent
            for finished in workers.ask_all(Finish()):
                self._sent[direct.name].update(finished.counters)

    def _jobs(self) -> Iterator[Job]:
        """The jobs in input order; each starts from the newest state known when it is made."""
        number = 0
        sources = self.group.sources
        for index, source in enumerate(sources):
            assert isinstance(source, (TextSource, JournalSource))
            previous: Block | None = None
            blocks = _blocks(source)
            block = next(blocks, None)
            while block is not None:
                after = next(blocks, None)
                last = after is None
                yield Job(number, index, source.origin, block, source.cap if isinstance(source, TextSource) else 0,
                          warm=_warm(previous) if isinstance(previous, TextBlock) else None, init=_without_ids(self._latest),
                          first=previous is None, last=last, final=last and index == len(sources) - 1)
                number += 1
                previous, block = block, after

    def _take(self, job: Job, done: Done, end: State | None, expected: State | None, tracker: AckTracker,
              counters: Counter[str]) -> State:
        """Write a result whose end state is ``end`` (`_check`); None: the block is done again."""
        if end is None:
            # The warm-up did not rebuild the state (a record longer than the warm-up, a rollover
            # of the year), or the ids of the block's first second may repeat the previous
            # block's: do the block again here, from the exact state.
            done = self._worker().run(replace(job, warm=None, init=expected, exact=True))
            end = done.end
            counters["reruns"] += 1
        self._latest = end
        self._emit(done, tracker, counters)
        self._errors += done.errors
        if isinstance(job.block, (TextBlock, Segment)):  # input consumed, counted per input
            self.progress.update(job.block.progress - self._consumed.get(job.source, 0))
            self._consumed[job.source] = job.block.progress
        if job.last:
            end = self._read_errors(job, end, tracker, counters)
        return end

    def _read_errors(self, job: Job, state: State, tracker: AckTracker, counters: Counter[str]) -> State:
        """A journal input's read errors, as its last items (they are known once it is read)."""
        source = self.group.sources[job.source]
        errors, self._errors = self._errors, []
        if isinstance(source, JournalSource):
            errors = source.errors + errors
        if not errors:
            return state
        chunk = error_chunk(job.origin, errors)
        done = self._worker().run(Job(job.number, job.source, job.origin, chunk, init=state, exact=True))
        self._emit(done, tracker, counters)
        return done.end

    def _emit(self, done: Done, tracker: AckTracker, counters: Counter[str]) -> None:
        counters["read"] += done.read
        counters["read_errors"] += done.read_errors
        for part in done.parts:
            self._deliver(part, tracker, counters)

    def _setup(self) -> Setup:
        return Setup(self.ctx, self.window, {s.name: s.encoder() for s in self.sinks})

    def _worker(self) -> Worker:
        """A worker in this process, for blocks done again."""
        if self._local is None:
            self._local = Worker(self._setup())
        return self._local

    def _deliver(self, part: Part, tracker: AckTracker, counters: Counter[str]) -> None:
        """Link the recognised documents, encode them into their places, write the batch."""
        if part.pending:
            docs = self.incidents.enrich([d for _, d in part.pending])
            for sink in self.sinks:
                items = part.items[sink.name]
                for (i, _), item in zip(part.pending, sink.encoder()(docs)):
                    items[i] = item
        self._write(part.items, part.size, part.unparsed, tracker, counters)

    def _write(self, items: dict[str, list[Any]], size: int, unparsed: int, tracker: AckTracker,
               counters: Counter[str]) -> None:
        counters["documents"] += size
        counters["unparsed"] += unparsed
        batch = Batch([], encoded=items)
        batch.seq = tracker.register(batch.source_id, batch.checkpoint)
        for sink in self.sinks:
            sink.write(batch)


def _direct(sinks: Sequence[Sink], workers: int) -> Direct | None:
    """With one output, Elasticsearch, the workers send their own bulks (`shipper.parallel.direct`).
    They share ``max_held_events`` (each holds at least a full request), so that the events held
    stay within it (the main process holds only the recognised ones)."""
    if len(sinks) != 1 or sinks[0].name != "elasticsearch":
        return None
    from shipper.sinks.elasticsearch import ElasticsearchSink  # noqa: PLC0415 - imported with the sink already

    if not isinstance(sinks[0], ElasticsearchSink):
        return None
    sink = sinks[0]
    held = max(sink.cfg.bulk_max_docs, sink.cfg.max_held_events // workers)
    return Direct(replace(sink.cfg, max_held_events=held), sink.state_dir, sink.name, dict(sink.env.environ))


def _check(job: Job, done: Done, expected: State) -> State | None:
    """The state after the block if the worker read it from the state before it (``expected``),
    else None. Ids start afresh in a worker: they hold unless the block's first second is the
    previous block's last and repeats some of its contents."""
    start = done.start
    if start.recognise != expected.recognise or (not job.first and start.parser != expected.parser):
        return None
    second, seen = expected.ids
    first_second, first_seen = done.ids_first
    if first_second != second:
        return done.end
    if not seen.keys().isdisjoint(first_seen):
        return None
    if done.ids_changed:
        return done.end
    return replace(done.end, ids=(second, {**seen, **done.end.ids[1]}))


def _without_ids(state: State | None) -> State | None:
    """The state a job starts from, but its ids: a worker's ids start afresh (only a block done
    again here starts from the exact ids), and they can be large (37 KB at 1,000 events a second)."""
    return None if state is None else replace(state, ids=("", {}))


def _blocks(source: TextSource | JournalSource) -> Iterator[Block]:
    if isinstance(source, TextSource):
        return source.blocks()
    return source.segments(SEGMENT_ENTRIES, WARM_ENTRIES)


def _warm(block: TextBlock | None) -> TextBlock | None:
    """The last `WARM_LINES` lines of ``block`` (all of it if it is shorter)."""
    if block is None:
        return None
    raw = block.raw
    cut = len(raw.data)
    for _ in range(WARM_LINES):
        cut = raw.data.rfind(b"\n", 0, cut)
        if cut < 0:
            return replace(block, broken=False)
    tail = RawBlock(raw.data[cut + 1 :], raw.base + raw.dropped + cut + 1, 0, raw.complete)
    return TextBlock(tail, block.progress, broken=False)


