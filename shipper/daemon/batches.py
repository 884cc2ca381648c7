"""A session's documents on their way from the parsers to the outbox (`shipper.daemon.session`).

The documents of each source wait (`Pending`) until their batch is big enough (``run.batch_events``)
or old enough (``run.batch_wait``; longer while batches spill to disk: `BACKED_UP_WAIT`), then are
recognised (in C where it can: `shipper.parallel.express`) and registered with the ledger, the
checkpoint of their last line keeping its place. A batch with a failure or a cause in it waits to
be linked until no input can still give an earlier event (`shipper.enrich.order`); the others go
to the outbox at once, encoded for the sink when its items are bytes.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

from shipper.daemon.courier import Courier
from shipper.daemon.ledger import Ledger
from shipper.daemon.linking import Linking
from shipper.daemon.outbox import Outbox
from shipper.daemon.plan import Plan
from shipper.daemon.stats import Stats
from shipper.enrich.base import Enricher
from shipper.enrich.order import Order, Waiting, roles_of, stamp
from shipper.enrich.recognise import Recognise
from shipper.event import Batch, Doc
from shipper.parallel.express import Tail
from shipper.sinks.base import Encode
from shipper.sinks.rows import encode_rows
from shipper.sources.live import Follower

BACKED_UP_WAIT = 2.0  # while batches spill to disk, let small ones grow this long (fewer, bigger records)


@dataclass
class Pending:
    follower: Follower
    docs: list[Doc] = field(default_factory=list)
    checkpoint: object | None = None
    since: float = 0.0  # monotonic time of the first document
    first: float = math.inf  # the first document's @timestamp (seconds)


class Batches:
    """``pending`` (source id -> its batch) and ``owner`` (source id -> its follower) are read by the
    session's `Pacing` as they change; ``outbox`` and ``courier`` are the session's once it opens."""

    def __init__(self, plan: Plan, enrichers: list[Enricher], order: Order, ledger: Ledger, stats: Stats) -> None:
        self.plan = plan
        self._recognise = enrichers[0]
        self.order = order
        self._ledger = ledger
        self._stats = stats
        self.pending: dict[str, Pending] = {}
        self.owner: dict[str, Follower] = {}
        self.outbox: Outbox | None = None
        self.courier: Courier | None = None
        self.linking: Linking | None = None  # told what each batch recognised (the session's)
        self._encode: Encode | None = plan.encode  # None: the sink's items are not bytes (documents travel)
        # The stages after parsing in C where it can (shipper.parallel.express); None: in Python.
        # Not for the local store: its batches carry documents (`_batch`), as the disk buffer keeps them.
        recognise, rows = self._recognise, plan.encode is encode_rows
        self._tail = (Tail.make(recognise, {plan.sink_name: plan.encode})
                      if isinstance(recognise, Recognise) and not rows else None)

    def add(self, follower: Follower, sid: str, docs: list[Doc], checkpoint: object | None, mono: float) -> None:
        pending = self.pending.get(sid)
        if pending is None:
            pending = self.pending[sid] = Pending(follower, since=mono)
            self.owner[sid] = follower
        if not pending.docs:
            pending.since = mono
            first = stamp(docs[0]) if docs else None
            pending.first = math.inf if first is None else first
        pending.docs += docs
        if checkpoint is not None:
            pending.checkpoint = checkpoint
        if len(pending.docs) >= self.plan.cfg.run.batch_events:
            self.hand_on_one(sid, mono)

    def hand_on(self, mono: float, force: bool) -> None:
        """The batches old enough (all of them: ``force``) on to recognition and the outbox."""
        assert self.outbox is not None
        wait = float(self.plan.cfg.run.batch_wait)
        if not self.outbox.spool.empty:
            wait = max(wait, BACKED_UP_WAIT)
        for sid, pending in list(self.pending.items()):
            if pending.docs or pending.checkpoint is not None:
                if force or mono - pending.since >= wait:
                    self.hand_on_one(sid, mono)

    def hand_on_one(self, sid: str, mono: float) -> None:
        """Recognise a source's pending batch and register it (its checkpoint keeps its place);
        it goes to the outbox now, or once linked if it has failures or causes (`Order`)."""
        pending = self.pending.pop(sid, None)
        if pending is None or (not pending.docs and pending.checkpoint is None):
            return
        key = pending.follower.key
        count, read, finish = self._recognised(pending.docs, sid, pending.checkpoint)
        self._stats.inputs[key].docs += count
        seq = self._ledger.register(sid, pending.checkpoint, key, count, pending.since)
        if self.linking is not None:
            self.linking.recognised(sid, pending.checkpoint, bool(pending.docs))
        roles = roles_of(read)
        if roles:
            self.order.add(Waiting(sid, roles, lambda: self._put(finish(), seq), mono))
        else:
            self._put(finish(), seq)

    def _recognised(self, docs: list[Doc], sid: str, checkpoint: object | None) -> tuple[int, list[Doc], Callable[[], Batch]]:
        """A batch through `Recognise`, the C tail taking what it can (`Tail.recognised`): its
        size, the documents recognition read, and what makes the batch, once they are linked."""
        if self._tail is not None and docs:
            assert self._encode is not None
            unfilled = self._tail.recognised(docs, self._recognise, 1)
            encoders, name = [self._encode], self.plan.sink_name
            return len(unfilled.outs[0]), unfilled.read, lambda: Batch(
                [], source_id=sid, checkpoint=checkpoint, encoded={name: unfilled.fill(encoders)[0]})
        docs = self._recognise.enrich(docs) if docs else docs
        return len(docs), docs, lambda: self._batch(docs, sid, checkpoint)

    def release(self, watermark: float, held: dict[str, float]) -> None:
        """The linked batches that no input can give an earlier event for any more on to the outbox."""
        for waiting in self.order.release(watermark, time.monotonic(), held):
            waiting.finish()

    def _batch(self, docs: list[Doc], sid: str, checkpoint: object | None) -> Batch:
        """The documents encoded for the sink now, when its items are bytes: while they wait they
        take a fraction of the documents' memory, and they go to the disk buffer as they are."""
        if self._encode is not None and docs:
            items = self._encode(docs)
            if type(items[0]) is bytes:
                return Batch([], source_id=sid, checkpoint=checkpoint, encoded={self.plan.sink_name: items})
            self._encode = None  # rows of the local store: documents travel, the sink encodes them
        return Batch(docs, source_id=sid, checkpoint=checkpoint)

    def send(self, batch: Batch, input_key: str, read_at: float) -> None:
        """A batch made apart (a gap's event) straight to the outbox."""
        self._put(batch, self._ledger.register(batch.source_id, batch.checkpoint, input_key, batch.count, read_at))

    def _put(self, batch: Batch, seq: int) -> None:
        assert self.outbox is not None
        assert self.courier is not None
        batch.seq = seq
        self.outbox.put(batch, spill=not self.courier.delivering(time.monotonic()))
