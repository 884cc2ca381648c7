"""One configuration at work: followers -> parse -> ids -> enrich -> outbox -> courier -> sink.

`step` is one turn of the loop, and never blocks: it commits the checkpoints the output released,
polls every follower (unless the output is behind: then the inputs keep the data), turns what
they return into documents, and hands batches on once they are big enough (``run.batch_events``)
or old enough (``run.batch_wait``; `shipper.daemon.batches`). A batch with a failure or a cause in
it is linked once no input can still give an earlier event (`shipper.enrich.order`). Checkpoint
files are written at most once a second, and at the end; a stop ships what the parsers hold. A SIGHUP ends one session and starts the next with the new configuration
(`shipper.daemon.switch`).

Reading resumes before what was shipped (`shipper.daemon.streams`); what is read again before how
far the output acknowledged (`Delivered`, kept beside each input's checkpoint) is recognised and
linked, not shipped again; nor is what the disk buffer holds, which counts as acknowledged (`Ledger.kept`).
Linking's state is saved after the checkpoints, and what is read again that it holds already is not
linked again (`shipper.daemon.linking`).
"""

from __future__ import annotations

import math
import socket
import time
from contextlib import ExitStack
from typing import Callable

from shipper.daemon import switch
from shipper.daemon.adopt import adopter
from shipper.daemon.batches import Batches
from shipper.daemon.courier import RETRY_OPEN_FIRST, RETRY_OPEN_MAX, Courier
from shipper.daemon.delivered import Delivered, drop_taken, held_files, held_streams, left_out
from shipper.daemon.gap import gap_doc
from shipper.daemon.ledger import Ledger
from shipper.daemon.linking import Linking
from shipper.daemon.outbox import Outbox
from shipper.daemon.pacing import Pacing, output_behind
from shipper.daemon.plan import Plan
from shipper.daemon.stats import Snapshot, Stats
from shipper.daemon.streams import Stream
from shipper.enrich.base import Enricher
from shipper.enrich.chain import default_enrichers
from shipper.enrich.order import Order, Waiting, roles_of, stamp
from shipper.errors import ConfigError
from shipper.event import Batch, Doc
from shipper.parse.dispatch import make_parser
from shipper.sinks.base import Sink
from shipper.sources.base import RawChunk
from shipper.sources.claimant import finished_of
from shipper.sources.live import End, Follower, Gap, Idle, Log, Polled, TextMark
from shipper.sources.tail import FileFollower
from shipper.state.checkpoints import CheckpointStore
from shipper.state.lock import StateLock
from shipper.state.spool import DIRNAME as SPOOL_DIR
from shipper.state.spool import Spool

SAVE_EVERY = 1.0
# A batch with failures or causes waits for the other inputs at most this long, and so many at most
# (`shipper.enrich.order`): a first start reads a backlog of hundreds of megabytes in that time. An
# input far ahead of another one catching up waits for it at most CAUSE_WAIT too (`Pacing`).
CAUSE_WAIT = 30.0
CAUSES_WAITING = 64


class Session:
    def __init__(self, plan: Plan, log: Log, stats: Stats, lock: StateLock | None = None) -> None:
        self.plan = plan
        self._lock = lock  # checked before checkpoints are written (`StateLock.lost`)
        self.cfg = plan.cfg
        self._log = log
        self.stats = stats
        self._store = CheckpointStore(self.cfg.state_dir)
        self._enrichers: list[Enricher] = default_enrichers(self.cfg.recognise)
        self.ledger = Ledger()
        order = Order(self._enrichers[1], CAUSE_WAIT, CAUSES_WAITING, window=float(self.cfg.recognise.incident_window))
        self._batches = Batches(plan, self._enrichers, order, self.ledger, stats)
        self._linking = self._batches.linking = Linking(self.cfg.state_dir, self._enrichers, log)
        self._streams: dict[str, Stream] = {}
        self._owner = self._batches.owner  # source id -> follower
        self._pacing = Pacing(self._owner, self._batches.pending, CAUSE_WAIT)
        self._dirty: set[str] = set()  # followers (by key) whose state changed since it was saved
        self._files: dict[str, object] = {}  # file inputs (by key) -> their files as last saved (`_moved`)
        self._looked_at = 0.0  # when `_moved` was last asked
        self._delivered = Delivered()
        self._nuls: dict[str, int] = {}  # follower key -> the NUL bytes of its count already in its figures
        self._sink: Sink | None = None  # opened by `connect`, for the courier
        self._saved_at = 0.0
        self._host = socket.gethostname()
        self.outbox: Outbox | None = None
        self.courier: Courier | None = None
        self.given_back: int | None = None  # batches put back in the disk buffer at a reload (`switch.give_back`)
        self.paused = False  # reading waits for the output
        self.closed = False  # `close` was called (whether or not it raised)

    # -- life -------------------------------------------------------------------------------------
    def connect(self, replacing: Session | None = None) -> None:
        """Open the output before the session starts (`switch.open_output`); ``replacing``: at a reload,
        the session that would end."""
        self._sink = switch.open_output(self.plan, self.ledger.ack, None if replacing is None else replacing.output_works)

    def check_checkpoints(self) -> None:
        """Read the checkpoint of each of the session's inputs, as `open` will: a `ConfigError`
        naming one that is damaged or cannot be read (a file input's too, whose file entries are
        damaged: `FileFollower.check`, `finished_of`). A reload asks before the running session ends, so that it
        can be refused while that session goes on (`open` reads them again then: the running
        session saves its own at its end)."""
        for follower in self.plan.followers:
            saved = self._store.load(follower.key)
            if isinstance(follower, FileFollower):
                follower.check(saved)
                finished_of((saved or {}).get("finished"), follower.label)

    def output_works(self) -> bool:
        """Whether this session's output takes batches now (`shipper.daemon.switch.output_works`)."""
        return switch.output_works(self.plan, self.courier)

    def discard(self) -> None:
        """Let go of a session that will not start (the output `connect` opened is closed)."""
        sink, self._sink = self._sink, None
        if sink is not None:
            sink.close()

    def open(self) -> None:
        """Start the session: the disk buffer, the courier (with the output `connect` opened), the
        inputs from their checkpoints. Whatever raises on the way (a damaged checkpoint, an input
        that cannot be opened), what was opened is closed again, the output too: the error goes
        on, and a reload that fails so leaves nothing open behind it."""
        with ExitStack() as undo:
            undo.callback(self.discard)
            self._start(undo)
            undo.pop_all()
        self._sink = None  # (the courier's now)

    def _start(self, undo: ExitStack) -> None:
        run = self.cfg.run
        self._linking.restore()  # (at a reload, as the session before saved it)
        spool = Spool(self.cfg.state_dir / SPOOL_DIR, int(run.spool_max_bytes))
        undo.callback(spool.close, keep=False)  # (nothing was put in it yet)
        self.outbox = Outbox(spool, run.queue_events, adopter(self.plan.sink_name, self.plan.encode, self.ledger))
        self.outbox.kept, self.ledger.acked = self.ledger.kept, self.outbox.acked  # (what is in the buffer's files)
        es = self.cfg.output.elasticsearch
        retry = (float(es.retry_initial), float(es.retry_max)) if es is not None else (RETRY_OPEN_FIRST, RETRY_OPEN_MAX)
        self.courier = Courier(self.plan.make_sink, self.outbox, self.ledger, linger=float(run.batch_wait), log=self._log,
                               opened=self._sink, retry=retry)
        self._batches.outbox, self._batches.courier = self.outbox, self.courier
        self.stats.begin((f.key, f.label) for f in self.plan.followers)
        for follower in self.plan.followers:
            undo.callback(follower.close)
        saved = {f.key: self._store.load(f.key) for f in self.plan.followers}
        files = [f for f in self.plan.followers if isinstance(f, FileFollower)]
        for follower in self.plan.followers:
            self._delivered.load(follower.key, saved[follower.key])
        for file_follower in files:
            file_follower.claim(saved[file_follower.key])  # (every file input's, before any matches its patterns)
        if files:  # (then the files of the inputs removed from the configuration: `FileFollower.inherit`)
            damaged: dict[str, ConfigError] = {}
            files[0].inherit({key: s for key, s in self._store.all(damaged).items() if key not in saved})
            for exc in damaged.values():
                left_out(exc, self._log)
        for follower in self.plan.followers:
            items = follower.open(saved[follower.key])
            self._take_handed(follower)
            for item in items:
                self._handle(follower, item, time.monotonic(), time.time())
            self._take_counts(follower)
            self._save(follower)
        self._hand_over()
        self.courier.start()

    def close(self, timeout: float, save: bool = True, let_go: bool = False) -> bool:
        """Hand on what is pending (what the parsers hold too: `_flush_held`), let the courier
        deliver for up to ``timeout`` seconds, save the checkpoints of what was acknowledged.
        False when not everything was delivered. ``save`` False (the state directory is gone):
        nothing is written there, neither checkpoints nor, when the output does not take batches,
        its disk buffer. ``let_go`` (a reload): a courier still at work then is abandoned
        (`switch.give_back`). The followers and the disk buffer are closed whatever raises on the
        way (a hand-over to a full disk): the error goes on, and a reload that fails so leaves no
        input open behind it."""
        assert self.outbox is not None and self.courier is not None
        self.closed = True
        with ExitStack() as closing:
            closing.callback(self.outbox.spool.close, keep=save)
            for follower in self.plan.followers:
                closing.callback(follower.close)
            handed = save or self.courier.delivering(time.monotonic())
            if handed:
                self._flush_held(time.monotonic())
                self._batches.hand_on(time.monotonic(), force=True)
                self._batches.release(math.inf, {})
                self._linking.moment(time.monotonic(), linked=True, force=True)
            delivered = self.courier.finish(timeout)
            if let_go and not delivered:
                self.given_back = switch.give_back(self.courier, self.outbox, timeout)
            if save:
                try:
                    if not delivered or not self.courier.delivering(time.monotonic()):
                        self.outbox.keep()  # to the disk buffer, as what waits in its own memory
                    self.outbox.store()  # (in its files, synced: the checkpoints count it)
                finally:
                    self._commit(force=True)  # (what went there before a full disk, say, counts)
        return handed and delivered and self.ledger.in_flight == 0

    # -- one turn -----------------------------------------------------------------------------------
    def step(self) -> bool:
        """One turn; True when there was something to read (call again at once)."""
        assert self.outbox is not None and self.courier is not None
        self._commit(force=False)
        mono, wall = time.monotonic(), time.time()
        busy = self._read(mono, wall)
        self._batches.hand_on(mono, force=False)
        if self._batches.order:
            self._batches.release(self._pacing.watermark(), self._holding())
        self._linking.moment(mono, linked=not self._batches.order)
        return busy

    def _read(self, mono: float, wall: float) -> bool:
        """Poll the inputs while reading need not wait for the output (`output_behind`, asked
        before each input: what goes past the bounds is one input's poll, not one per input);
        True when something was read."""
        assert self.outbox is not None and self.courier is not None
        busy = False
        for follower in self._pacing.in_turn(self.plan.followers):
            self.paused = output_behind(self.outbox, self.courier, mono)
            if self.paused:
                self._pacing.stopped_before(follower)
                break
            if self._pacing.ahead(follower, mono):
                continue
            self._pacing.polling(follower)
            read = 0
            items = follower.poll(wall)
            self._take_handed(follower)
            for item in items:
                self._handle(follower, item, mono, wall)
                read += len(item.items) if isinstance(item, RawChunk) else 0
                busy = True
            self._take_counts(follower)
            self._pacing.polled(follower, read)
        return busy

    def fds(self) -> list[int]:
        return [fd for f in self.plan.followers for fd in f.fds()]

    def _handle(self, follower: Follower, item: Polled, mono: float, wall: float) -> None:
        if isinstance(item, RawChunk):
            stream = self._stream(follower, item)
            docs, checkpoint = stream.take(item)
            self._pacing.read(item.origin.source_id, docs)
            stat = self.stats.inputs[follower.key]
            stat.read += len(item.items)
            if item.kind == "text" and item.offsets:
                stat.bytes += item.offsets[-1] - item.offsets[0] + len(item.items[-1]) + 1
            self._batches.add(follower, item.origin.source_id, docs, checkpoint, mono)
        elif isinstance(item, Gap):
            self.stats.inputs[follower.key].gaps += 1
            self._log(f"shipper: {follower.label}: {item.message}")
            doc = gap_doc(item, follower.key, follower.label, self._host, wall)
            self._batches.send(Batch([doc], source_id=f"{follower.key}#gap"), follower.key, mono)
        elif isinstance(item, (Idle, End)):
            self._finish_stream(follower, item, mono)

    def _take_handed(self, follower: Follower) -> None:
        """The files ``follower`` reads on as other checkpoints left them (removed inputs', rivals':
        `FileFollower.handed_streams`): what the output acknowledged of them and their linking fence
        go with them (their lines read again are neither shipped nor linked again)."""
        if isinstance(follower, FileFollower):
            for old, new, shipped in follower.handed_streams():
                self._delivered.acknowledged(follower.key, new, TextMark(0, shipped))
                self._linking.handed(old, new)

    def _take_counts(self, follower: Follower) -> None:
        """A file input's own counts (`FileFollower.counters`) into its figures: the NUL bytes
        dropped add up (across reloads too); the files another input reads are this session's."""
        if not isinstance(follower, FileFollower):
            return
        counts, stat = follower.counters, self.stats.inputs[follower.key]
        stat.files_read_by_another_input = counts["files_read_by_another_input"]
        nuls = counts["nul_bytes_skipped"]
        stat.nul_bytes_skipped += nuls - self._nuls.get(follower.key, 0)
        self._nuls[follower.key] = nuls

    def _stream(self, follower: Follower, chunk: RawChunk) -> Stream:
        sid = chunk.origin.source_id
        stream = self._streams.get(sid)
        if stream is None:
            self._delivered.started(sid)
            stream = self._streams[sid] = Stream(make_parser(chunk.origin, self.plan.ctx),
                                                 delivered=self._delivered.of(follower.key, sid),
                                                 again=lambda docs: self._read_again(follower, sid, docs))
        return stream

    def _read_again(self, follower: Follower, sid: str, docs: list[Doc]) -> None:
        """Documents read again before what the output acknowledged: not shipped again, but
        recognised and linked as the others (in the stream's order: its pending documents first),
        so that a failure after them still meets its cause among them."""
        mono = time.monotonic()
        pending = self._batches.pending.get(sid)
        if pending is not None and pending.docs:
            self._batches.hand_on_one(sid, mono)
        self.stats.inputs[follower.key].read_again += len(docs)
        self._pacing.read(sid, docs)
        docs = self._linking.unseen(sid, docs)  # (those in the linking state restored are linked)
        roles = roles_of(self._enrichers[0].enrich(docs)) if docs else []
        if roles:
            self._batches.order.add(Waiting(sid, roles, _shipped_already, mono))

    def _finish_stream(self, follower: Follower, item: Idle | End, mono: float) -> None:
        stream = self._streams.get(item.source_id)
        docs: list[Doc] = []
        checkpoint: object | None = None
        if stream is not None:
            docs, checkpoint = stream.flush(item.shipped if isinstance(item, Idle) else None, journal=False)
        if isinstance(item, End):
            self._streams.pop(item.source_id, None)
            self._pacing.ended(item.source_id)
            checkpoint = item.checkpoint
            if checkpoint is None:
                self._delivered.abandon(follower.key, item.source_id)
                self._linking.gone(item.source_id)
                # The follower's state no longer holds the stream: saved now, not at the next
                # acknowledgement (a stop before it would report a gap for it at the next start).
                self._dirty.add(follower.key)
        self._batches.add(follower, item.source_id, docs, checkpoint, mono)
        self._batches.hand_on_one(item.source_id, mono)
        if isinstance(item, End) and item.checkpoint is None:
            self.ledger.forget(item.source_id)  # (nothing of it is committed any more)
            self._owner.pop(item.source_id, None)

    def _flush_held(self, mono: float) -> None:
        """At the end, the records the parsers hold (a file's last line: the next one could continue
        it) go with the rest (`Stream.flush_held`): everything read is delivered, and the
        checkpoints pass it; otherwise a file gone by the next start (rotated away) takes them along."""
        for sid, stream in self._streams.items():
            follower = self._owner.get(sid)
            if follower is not None and stream.parser.held() is not None:
                docs, checkpoint = stream.flush_held()
                self._batches.add(follower, sid, docs, checkpoint, mono)

    def _holding(self) -> dict[str, float]:
        """The @timestamp of the record each source's parser holds back: a file's last line is
        held until the next one comes or the file is idle for `flush_after` (it may continue)."""
        held = {sid: s.parser.held() for sid, s in self._streams.items()}
        return {sid: t for sid, doc in held.items() if doc is not None and (t := stamp(doc)) is not None}

    # -- checkpoints --------------------------------------------------------------------------------
    def _commit(self, force: bool) -> None:
        for sid, checkpoint in self.ledger.released().items():
            follower = self._owner.get(sid)
            if follower is None:
                continue
            if (held := self._linking.released(sid, checkpoint)) is not None:
                follower.commit(sid, held)
            self._delivered.acknowledged(follower.key, sid, checkpoint)
            self._dirty.add(follower.key)
            if isinstance(checkpoint, TextMark) and checkpoint.done:
                self.ledger.forget(sid)
                self._owner.pop(sid, None)
        now = time.monotonic()
        if force or now - self._looked_at >= SAVE_EVERY:
            self._looked_at = now
            self._dirty.update(self._moved())
        if (self._dirty or self._linking.ready()) and (force or now - self._saved_at >= SAVE_EVERY):
            if self._lock is not None and self._lock.lost() is not None:
                return  # saving would make the state directory again (the loop stops at its next check)
            assert self.outbox is not None
            self.outbox.spool.sync()  # (the batches in it that the checkpoints count are durable first)
            for sid, checkpoint in self._linking.pick(self._kept()):  # (held back to the state written next)
                if (owner := self._owner.get(sid)) is not None:
                    owner.commit(sid, checkpoint)
                    self._dirty.add(owner.key)
            for follower in self.plan.followers:
                if follower.key in self._dirty:
                    self._save(follower)
            self._dirty.clear()
            self._linking.save()  # (after the checkpoints: `shipper.daemon.linking`)
            self._saved_at = now
        self._hand_over()

    def _save(self, follower: Follower) -> None:
        state = follower.state()
        self._store.save(follower.key, self._delivered.saved(follower.key, state))
        if isinstance(follower, FileFollower):
            self._files[follower.key] = held_files(state)

    def _moved(self) -> list[str]:
        """The file inputs whose files changed since their checkpoint was saved with nothing
        acknowledged since (a copy or an archive found, a file renamed, let go of or read to its
        end): their checkpoints are saved too, so that they say where the content is after a stop."""
        return [f.key for f in self.plan.followers if isinstance(f, FileFollower) and f.key not in self._dirty
                and held_files(f.state()) != self._files.get(f.key)]

    def _kept(self) -> Callable[[str], bool]:
        """The streams whose fences linking's state keeps: those the inputs hold, and those of a
        removed input whose checkpoint is still there (added back, it reads them again)."""
        held = {sid for f in self.plan.followers for sid in held_streams(f.key, f.state())}
        return lambda sid: sid in held or self._store.path(sid.partition("/")[0]).exists()

    def _hand_over(self) -> None:
        """Drop from the checkpoints of inputs no longer configured the files configured inputs took
        (`FileFollower.handed_over`), once the checkpoints of the inputs that took them hold them (a
        crash in between: the file is still handed over at the next start). An input added back
        then starts afresh for those files, rather than taking them back from where it had left
        them and shipping again what the other input shipped since."""
        files = [f for f in self.plan.followers if isinstance(f, FileFollower)]
        taken = files[0].handed_over() if files else {}
        if not taken or (self._lock is not None and self._lock.lost() is not None):
            return
        assert self.outbox is not None
        self.outbox.spool.sync()  # (as before any checkpoint is saved: `_commit`)
        for follower in files:
            self._save(follower)
        for key, idents in taken.items():
            drop_taken(self._store, key, idents, self._log)

    # -- figures --------------------------------------------------------------------------------------
    def snapshot(self, last_message: str | None) -> Snapshot:
        assert self.outbox is not None and self.courier is not None
        keys = [f.key for f in self.plan.followers]
        return Snapshot(
            now=time.monotonic(), wall=time.time(), shipped=dict(self.ledger.snapshot()),
            oldest={k: self.ledger.oldest(k) for k in keys},
            backlog={f.key: f.backlog() for f in self.plan.followers},
            queue_events=self.outbox.events, spool_bytes=self.outbox.spool.size, in_flight=self.ledger.in_flight,
            sink=self.courier.sink_name, connected=self.courier.connected, sink_counters=dict(self.courier.counters),
            last_message=last_message,
        )


def _shipped_already() -> None:
    """What becomes of documents read again once linked: nothing (they were shipped before)."""
