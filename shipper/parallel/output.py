"""The writing side of a parallel replay's main process: links, encodes, writes, counts.

`ParallelReplay` (`shipper.parallel.replay`) takes the workers' results in order and hands each
part here (`Output.deliver`). The few recognised documents of a part are linked into incidents
(`Incidents` needs them all, in order), encoded into the places the worker left for them, and the
batch goes to every sink. With several groups, a part with failures or causes waits until every
other group's results have passed it in time (`shipper.enrich.order`, `Output.release`), so that a
failure meets a cause from another group as when `shipper.pipeline.Pipeline` merges the groups by
time; into NDJSON each part keeps its place in the merge of the groups' lines
(`shipper.parallel.merge`).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any, Sequence

from shipper.acks import AckTracker
from shipper.enrich.base import Enricher
from shipper.enrich.order import Order, Waiting, roles_of
from shipper.event import Batch
from shipper.parallel.merge import Merge, Slot, stamp_of
from shipper.parallel.pool import DEPTH
from shipper.parallel.work import Part
from shipper.sinks.base import Sink

# Several groups: at most so many parts per job in flight wait for the other groups before they are
# linked. The group whose results are earliest gets the next job, so the parts of a group ahead come
# from jobs it was given before it got ahead: 11, 19 and 34 parts at most waited with 2, 4 and 8
# workers (1M lines as maillog and messages; a fixed 16 made failures miss their causes with 4).
# The bound is for a group whose clock is off: past it, the oldest part is linked without waiting
# further, and a failure may miss its cause.
PARTS_WAITING_PER_JOB = 16


@dataclass
class Output:
    """Where the parts of a parallel replay go (see the module); counts documents and unparsed
    ones as they are written, as `shipper.pipeline.Pipeline` does."""

    sinks: Sequence[Sink]
    incidents: Enricher  # runs here, in order, on the recognised documents; workers recognise
    tracker: AckTracker
    counters: Counter[str]
    order: Order | None = None  # several groups: linking waits for the others
    merge: Merge | None = None  # several groups into NDJSON: its lines in time order

    @classmethod
    def make(cls, sinks: Sequence[Sink], incidents: Enricher, groups: int, workers: int, tracker: AckTracker,
             counters: Counter[str]) -> Output:
        """The output of ``groups`` groups read by ``workers`` workers."""
        out = cls(sinks, incidents, tracker, counters)
        if groups > 1:
            waiting = PARTS_WAITING_PER_JOB * DEPTH * max(workers, 1)
            out.order = Order(incidents, math.inf, waiting, [str(i) for i in range(groups)])
            if [s.name for s in sinks] == ["ndjson"]:
                name = sinks[0].name
                out.merge = Merge(groups, lambda lines: out.write({name: lines}, 0, 0))
        return out

    def deliver(self, group: int, part: Part) -> None:
        """Link the recognised documents, encode them into their places, write the batch; with
        several groups, a part with failures or causes waits until the other groups' results have
        passed them (`release`)."""
        if self.order is None:
            if part.pending:
                self.incidents.enrich([doc for _, doc in part.pending])
            self._fill(part)
            return
        slot = self.merge.slot(group, _first_stamp(part, self.sinks[0].name)) if self.merge is not None else None
        roles = roles_of([doc for _, doc in part.pending])
        if not roles:
            self._fill(part, slot)
            return
        if slot is None:  # the rest is written now: only the recognised documents wait
            waiting = len(part.pending)
            self.write(part.split(), part.size - waiting, part.unparsed)
            part.size, part.unparsed = waiting, 0
        self.order.add(Waiting(str(group), roles, lambda: self._fill(part, slot), 0.0))

    def release(self, frontier: float) -> None:
        """The waiting parts no group can precede any more: every group not done has passed them
        (``frontier``, the earliest second such a group's results reached; `math.inf`: all of
        them). Deterministic: no clock is read."""
        if self.order:
            for waiting in self.order.release(frontier, 0.0):
                waiting.finish()

    def finish(self) -> None:
        """What the incidents' linker still holds, once every part was delivered and released."""
        tail = self.incidents.flush()
        if tail:
            self.write({s.name: s.encoder()(tail) for s in self.sinks}, len(tail), 0)

    def close(self, group: int) -> None:
        """Group ``group``'s last result was taken: the other groups' lines no longer wait for its next."""
        if self.merge is not None:
            self.merge.close(group)

    def write(self, items: dict[str, list[Any]], size: int, unparsed: int) -> None:
        self.counters["documents"] += size
        self.counters["unparsed"] += unparsed
        batch = Batch([], encoded=items)
        batch.seq = self.tracker.register(batch.source_id, batch.checkpoint)
        for sink in self.sinks:
            sink.write(batch)

    def _fill(self, part: Part, slot: Slot | None = None) -> None:
        """Encode the linked documents into their places, and write the batch (into NDJSON of
        several groups: give its lines to the merge, in their ``slot``)."""
        if part.pending:
            docs = [doc for _, doc in part.pending]
            for sink in self.sinks:
                items = part.items[sink.name]
                for (i, _), item in zip(part.pending, sink.encoder()(docs)):
                    items[i] = item
        if slot is None:
            self.write(part.items, part.size, part.unparsed)
            return
        assert self.merge is not None
        self.counters["documents"] += part.size
        self.counters["unparsed"] += part.unparsed
        self.merge.fill(slot, part.items[self.sinks[0].name])


def _first_stamp(part: Part, name: str) -> bytes:
    """The @timestamp of a part's first document, before the recognised ones are encoded."""
    first = part.items[name][0]
    return stamp_of(first) if first is not None else str(part.pending[0][1]["@timestamp"]).encode()
