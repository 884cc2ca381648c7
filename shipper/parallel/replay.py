"""The main process of a parallel replay: makes the jobs, takes their results in order, checks them.

`ParallelReplay.run` does what `shipper.pipeline.Pipeline.run` does for groups of syslog text
inputs or journal files, with the same documents (for one group, batch for batch), but parsing,
ids, recognition and encoding run in worker processes (`shipper.parallel.work`). See
`shipper.parallel` for how the state that lines carry from one block to the next is rebuilt and
checked.

Several groups (``replay /var/log/maillog* /var/log/messages``) are replayed side by side: each
group's results are taken in its own order, with its own parser, recogniser and ids, as
`Pipeline` gives each group; the group whose results are earliest in time gets the next job, and
a part with failures or causes is linked once every other group has passed it in time
(`shipper.enrich.order`), so that a failure meets a cause from another group as it does when
`Pipeline` merges the groups by time. Items come in the order of the jobs, not merged by time
(the local store and Elasticsearch order by @timestamp themselves), but for NDJSON, one stream
in time order, whose lines the main process merges as `Pipeline` merges documents (`merge`).
What is done with the results taken (linking, encoding, writing) is `shipper.parallel.output`'s.
"""

from __future__ import annotations

import itertools
import math
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field, replace
from typing import Callable, Iterator, Sequence

from shipper.acks import AckTracker
from shipper.enrich.base import Enricher
from shipper.enrich.incidents import epoch
from shipper.enrich.recognise import continued
from shipper.event import TAG_TIMESTAMP_ZONE_IGNORED
from shipper.ids import FRESH, joined
from shipper.parallel.direct import Commit, Direct, Finish
from shipper.parallel.output import Output
from shipper.parallel.pool import DEPTH, Workers
from shipper.parallel.work import Block, Done, Job, Setup, State, Worker
from shipper.parse.base import ParseContext
from shipper.pipeline import Group, Summary, Window, deliver_to
from shipper.progress import Progress, Silent
from shipper.sinks.base import Sink
from shipper.sources.files import TextBlock, TextSource
from shipper.sources import journal_faults
from shipper.sources.journal import JournalSource, error_chunk
from shipper.sources.journal_boots import NO_CLAIMS, replayed
from shipper.sources.journal_segments import Segment, read_in_full
from shipper.sources.lines import RawBlock

WARM_LINES = 64  # lines of the previous block a worker reads first to rebuild the state
WARM_ENTRIES = 64  # the same for journal entries
# Journal entries per job. Each job costs a search for the segment's bounds, and the counts of the
# seconds it kept go to the main process (packed, `shipper.ids.Tally`: 17 KB a second at 1,000
# entries a second). A worker holds the items of `DEPTH` segments (about 5 MB each) until the main
# process has taken them.
# 1M entries into the bench endpoint: 3.7, 3.4 and 3.1 s with 2,000, 4,000 and 8,000 entries,
# at 151, 170 and 204 MB of PSS (bench/README.md).
SEGMENT_ENTRIES = 4000
MIN_PARALLEL_BYTES = 8 << 20  # below this (about 60k lines, 0.5 s), starting workers costs more than it saves


def eligible(groups: Sequence[Group]) -> bool:
    """Groups of syslog text inputs (files, rotated sets, archives, stdin) or of journal files can
    be replayed in parallel; other formats are read by one process."""
    return all(
        (isinstance(s, TextSource) and s.origin.format == "syslog") or isinstance(s, JournalSource)
        for g in groups for s in g.sources
    )


def worth_it(groups: Sequence[Group]) -> bool:
    """Enough input to repay the workers' start (an input of unknown size counts as enough)."""
    sizes = [s.total() for g in groups for s in g.sources]
    return any(size is None for size in sizes) or sum(s or 0 for s in sizes) >= MIN_PARALLEL_BYTES


@dataclass
class _Chain:
    """One group in the main process: its jobs, and the state its results carry from one to the
    next (each group has its own parser, recogniser and ids, as in `shipper.pipeline`)."""

    index: int
    group: Group
    jobs: Iterator[Job]
    latest: State | None = None  # the newest accepted end state (new jobs start from it)
    expected: State | None = None  # the state the next result must start from
    frontier: float = -math.inf  # the second its taken results reached (seconds since the epoch)
    in_flight: int = 0  # jobs sent, results not taken
    ended: bool = False  # every job made
    consumed: dict[int, int] = field(default_factory=dict)  # input -> bytes reported
    errors: list[str] = field(default_factory=list)  # the input's read errors so far
    read_here: int = -1  # the input whose rest was read here (`_again`): its later results are left out
    read: int = 0  # the entries of its results taken for the input being read (for `JournalSource.finish`)


@dataclass
class ParallelReplay:
    groups: Sequence[Group]
    ctx: ParseContext
    incidents: Enricher  # runs here, in order, on the recognised documents; workers recognise
    sinks: Sequence[Sink]
    workers: int
    window: Window = field(default_factory=Window)
    progress: Progress = field(default_factory=Silent)
    clock: Callable[[], float] = time.monotonic
    _chains: list[_Chain] = field(default_factory=list, init=False)
    _numbers: Iterator[int] = field(default_factory=itertools.count, init=False)  # job numbers, in sending order
    _output: Output | None = field(default=None, init=False)  # set by `_run`
    _local: Worker | None = field(default=None, init=False)  # for blocks done again
    _direct: Direct | None = field(default=None, init=False)  # set by `run`
    _sent: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter), init=False)  # by workers

    def run(self) -> Summary:
        self._direct = direct = _direct(self.sinks, self.workers)
        if direct is not None:  # the workers use the official client: imported before the fork, shared
            import shipper.sinks.es_client  # noqa: F401, PLC0415
        self._chains = [_Chain(i, group, self._jobs(i, group)) for i, group in enumerate(self.groups)]
        workers = Workers(self.workers, replace(self._setup(), direct=direct))
        busy: deque[tuple[int, Job]] = deque()  # (worker, job) of the results not taken, in job order
        try:
            summary = deliver_to(self.sinks, lambda tracker, counters: self._run(workers, busy), self.clock,
                                 first=lambda tracker, counters: self._start(workers, busy, tracker, counters))
        finally:
            workers.close()
            for group in self.groups:
                for source in group.sources:
                    source.close()
        for name, counters in self._sent.items():  # what the workers' own sinks did
            summary.sinks[name].update(counters)
        return summary

    def _start(self, workers: Workers, busy: deque[tuple[int, Job]], tracker: AckTracker, counters: Counter[str]) -> None:
        """The output, and the first jobs: up to `DEPTH` to each worker in turn, sent before the
        sinks open, so that the workers parse while the sinks connect."""
        self._output = Output.make(self.sinks, self.incidents, len(self.groups), self.workers, tracker, counters)
        for worker in itertools.islice(itertools.cycle(range(len(workers))), DEPTH * len(workers)):
            job = self._next_job()
            if job is None:
                break
            workers.send(worker, job)
            busy.append((worker, job))

    def _run(self, workers: Workers, busy: deque[tuple[int, Job]]) -> None:
        """Results are taken in job order (`_start` sent the first jobs). A worker gets its next
        job as soon as a result is taken, before that result is written, so writing overlaps the
        workers' parsing."""
        output = self._out
        direct = self._direct
        while busy:
            worker, job = busy.popleft()
            done: Done = workers.receive(worker)
            chain = self._chains[job.group]
            left_out = job.source == chain.read_here
            end = None if left_out else _check(job, done, chain.expected)
            cut = None if left_out or end is not None else _cut(job, done, chain.expected)
            if cut is not None:
                end = cut
            if direct is not None:  # the worker sends the result's items, or drops them (done again here)
                workers.send(worker, Commit(job.number, end is not None))
            following = self._next_job()
            if following is not None:
                workers.send(worker, following)
                busy.append((worker, following))
            if left_out:
                self._left_out(chain, job)
            else:
                chain.expected = self._take(chain, job, done, end, cut is not None)
            self._release()
        output.release(math.inf)
        output.finish()
        if direct is not None:  # the workers settle what they sent
            for finished in workers.ask_all(Finish()):
                self._sent[direct.name].update(finished.counters)

    def _next_job(self) -> Job | None:
        """The next job of the group whose results reached the earliest second (then: the fewest
        jobs out, the first given), so that groups advance in step and linking waits little."""
        while True:
            chains = [c for c in self._chains if not c.ended]
            if not chains:
                return None
            chain = min(chains, key=lambda c: (c.frontier, c.in_flight, c.index))
            job = next(chain.jobs, None)
            if job is not None:
                chain.in_flight += 1
                chain.ended = job.final  # its last: the group is done once this result is taken
                return job
            chain.ended = True
            self._finished(chain)

    def _jobs(self, group_index: int, group: Group) -> Iterator[Job]:
        """A group's jobs in input order; each starts from the newest state known when it is made."""
        chain = self._chains[group_index]  # (made before the first job is asked for)
        sources = group.sources
        for index, source in enumerate(sources):
            assert isinstance(source, (TextSource, JournalSource))
            previous: Block | None = None
            blocks = _blocks(source)
            block = next(blocks, None)
            while block is not None:
                after = next(blocks, None)
                last = after is None
                yield Job(next(self._numbers), index, source.origin, block, source.cap if isinstance(source, TextSource) else 0,
                          warm=_warm(previous) if isinstance(previous, TextBlock) else None, init=_without_ids(chain.latest),
                          first=previous is None, last=last, final=last and index == len(sources) - 1, group=group_index)
                previous, block = block, after

    def _take(self, chain: _Chain, job: Job, done: Done, end: State | None, cut: bool = False) -> State:
        """Write a result whose end state is ``end`` (`_check`); None: the block is done again;
        ``cut``: a file of the segment was cut under the replay (`_cut`), and its input ends here."""
        if end is None:
            # The warm-up did not rebuild the state (a record longer than the warm-up, a rollover
            # of the year), or the block's ids may depend on the previous block's (a line repeats
            # across the cut), or the worker read a journal segment short: do the block again
            # here, from the exact state.
            job, done = self._again(chain, job)
            end = done.end
        elif cut:
            job, done = self._ended(chain, job, done, end)
            end = done.end
        chain.read += done.read
        chain.latest = end
        chain.in_flight -= 1
        self._emit(chain, done)
        chain.errors += done.errors
        self._consumed(chain, job)
        if job.last:
            end = self._read_errors(chain, job, end)
        if end.ids[0]:
            chain.frontier = epoch(end.ids[0])
        self._finished(chain)
        return end

    def _again(self, chain: _Chain, job: Job) -> tuple[Job, Done]:
        """Do a block again here, from the exact state. A journal segment read short here too
        stops before its end (a damaged file): then the rest of its input is read here as one
        process reads it, on past the stop (`shipper.sources.journal_resume`), and the results of
        the input's later segments are left out (`_left_out`)."""
        again = replace(job, warm=None, init=chain.expected, exact=True)
        done = self._worker().run(again)
        self._out.counters["reruns"] += 1
        seg = job.block
        if isinstance(seg, Segment) and seg.count is not None and not read_in_full(seg, done.read):
            again = replace(again, block=replace(seg, count=None, until=None), last=True,
                            final=self._final(chain, job))
            done = self._worker().run(again)
            chain.read_here = job.source
        return again, done

    def _ended(self, chain: _Chain, job: Job, done: Done, end: State) -> tuple[Job, Done]:
        """A worker's result of a segment that a file cut under the replay ends (`_cut`), ``end``
        its end state: its input ends with it, as one process reads no more after the cut (its
        later segments are left out: `_left_out`); what an input's end flushes is done here."""
        chain.read_here = job.source
        job = replace(job, last=True, final=self._final(chain, job))
        flushed = self._worker().run(replace(job, block=error_chunk(job.origin, []), init=end, exact=True))
        done.parts += flushed.parts
        done.end = flushed.end
        return job, done

    @staticmethod
    def _final(chain: _Chain, job: Job) -> bool:
        """Whether ``job``'s input is the last of its group (ended with it, the group ends)."""
        return job.source == len(chain.group.sources) - 1

    def _left_out(self, chain: _Chain, job: Job) -> None:
        """A result of a segment whose input was read here (`_again`): only its input is counted."""
        chain.in_flight -= 1
        self._consumed(chain, job)
        self._finished(chain)

    def _consumed(self, chain: _Chain, job: Job) -> None:
        if isinstance(job.block, (TextBlock, Segment)):  # input consumed, counted per input
            self.progress.update(job.block.progress - chain.consumed.get(job.source, 0))
            chain.consumed[job.source] = job.block.progress

    def _finished(self, chain: _Chain) -> None:
        """Once a group's last result is taken, the other groups' lines no longer wait for its next."""
        if chain.ended and not chain.in_flight:
            self._out.close(chain.index)

    def _read_errors(self, chain: _Chain, job: Job, state: State) -> State:
        """A journal input's read errors, as its last items (they are known once it is read)."""
        source = chain.group.sources[job.source]
        errors, chain.errors = chain.errors, []
        read, chain.read = chain.read, 0
        if isinstance(source, JournalSource):
            errors = source.finish(source.errors + errors, read)
        if not errors:
            return state
        chunk = error_chunk(job.origin, errors)
        done = self._worker().run(Job(job.number, job.source, job.origin, chunk, init=state, exact=True, group=job.group))
        self._emit(chain, done)
        return done.end

    def _emit(self, chain: _Chain, done: Done) -> None:
        """Count a result taken, and hand its parts to the output (`Output.deliver`)."""
        output = self._out
        output.counters["read"] += done.read
        output.counters["read_errors"] += done.read_errors
        for part in done.parts:
            output.counters["truncated"] += part.truncated
            output.counters[TAG_TIMESTAMP_ZONE_IGNORED] += part.zone_ignored
            output.deliver(chain.index, part)

    def _setup(self) -> Setup:
        return Setup(self.ctx, self.window, {s.name: s.encoder() for s in self.sinks})

    def _worker(self) -> Worker:
        """A worker in this process, for blocks done again."""
        if self._local is None:
            self._local = Worker(self._setup())
        return self._local

    @property
    def _out(self) -> Output:
        assert self._output is not None, "_run first"
        return self._output

    def _release(self) -> None:
        """With several groups: the waiting parts that every group not done has passed (`Output.release`)."""
        open_ = [c.frontier for c in self._chains if not (c.ended and c.in_flight == 0)]
        self._out.release(min(open_, default=math.inf))


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
    held = max(sink.cfg.bulk_docs, sink.cfg.max_held_events // workers)
    return Direct(replace(sink.cfg, max_held_events=held), sink.state_dir, sink.name, dict(sink.env.environ))


def _check(job: Job, done: Done, expected: State | None, whole: bool = True) -> State | None:
    """The state after the block if the worker read all of it (a journal segment: `read_in_full`;
    not asked with ``whole`` False) as from the state before it (``expected``; None: the start of
    everything), else None. Ids start afresh in a worker: they hold unless twins of lines before
    the block come in it before their second is left behind (`joined`). What lines told of their
    host need not have been rebuilt: only the answers the block's lines got (`continued`); nor
    the boots' claims of a journal input: only the block's decisions (`replayed`)."""
    if whole and isinstance(job.block, Segment) and not read_in_full(job.block, done.read):
        return None
    if expected is None:
        return done.end
    start = done.start
    if not job.first and start.parser != expected.parser:
        return None
    recognise = continued(expected.recognise, start.recognise, done.end.recognise, done.reads)
    if recognise is None:
        return None
    boots = replayed(NO_CLAIMS if job.first else expected.boots, done.boots)
    if boots is None:
        return None
    ids = joined(expected.ids, done.ids_block, done.end.ids)
    return None if ids is None else replace(done.end, ids=ids, recognise=recognise, boots=boots)


def _cut(job: Job, done: Done, expected: State | None) -> State | None:
    """The state after a journal segment that a worker read short because a file of it was cut
    (truncated) under the replay, if its states hold (`_check`); else None. Read again here, it
    would give fewer entries: sd_journal no longer opens the file."""
    seg = job.block
    if not isinstance(seg, Segment) or seg.count is None or not any(map(journal_faults.cut, seg.paths)):
        return None
    return _check(job, done, expected, whole=False)


def _without_ids(state: State | None) -> State | None:
    """The state a job starts from, but its ids: a worker's ids start afresh (only a block done
    again here starts from the exact ids), and they can be large (1 MB at 1,000 events a second)."""
    return None if state is None else replace(state, ids=FRESH)


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


