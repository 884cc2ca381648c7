"""Between the loop and the output: a bounded queue in memory that spills to the disk buffer.

The loop `put`s batches and never blocks. While the output takes them they stay in memory; when
the memory queue holds ``max_events`` the loop stops reading until there is room again. When the
output does not take batches at all (unreachable), what does not fit in memory is written to the
`Spool`, and so is everything after it while anything waits there (first in, first out). When the
spool is `full`, the loop stops reading. The courier thread `get`s batches in order: memory
first, then disk.

A batch read back from disk carries only its documents and its ledger sequence number; its
checkpoint stayed in the ledger. Batches a previous run left on disk come back with ``seq`` =
`ORPHAN`: the courier registers them anew (they release no checkpoint: their data is read again
from the inputs anyway, and the output recognises what it already has by ``event.id``).
"""

from __future__ import annotations

import os
import threading
from collections import deque
from typing import Any

import orjson

from shipper.event import Batch
from shipper.state.spool import Spool

ORPHAN = -1


def _default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "backslashreplace")
    return str(value)


class Outbox:
    def __init__(self, spool: Spool, max_events: int) -> None:
        self.spool = spool
        self.max_events = max_events
        self._queue: deque[Batch] = deque()
        self._events = 0  # events in the memory queue
        self._cond = threading.Condition()
        self._closing = False
        self._run = os.urandom(8).hex()  # tells this run's records on disk from a previous run's

    def put(self, batch: Batch, spill: bool = True) -> None:
        """Queue a batch: in memory, or on disk when memory is full and ``spill`` (the output is
        not taking batches; when it is, the loop stops reading instead, so memory may go over
        ``max_events`` by what one turn read). Once anything waits on disk, so does what follows."""
        with self._cond:
            room = self._events + len(batch.docs) <= max(self.max_events, len(batch.docs))
            if self.spool.empty and (room or not spill):
                self._queue.append(batch)
                self._events += len(batch.docs)
            else:
                self.spool.put(orjson.dumps({"run": self._run, "seq": batch.seq, "source": batch.source_id, "docs": batch.docs},
                                            default=_default))
            self._cond.notify()

    def get(self, timeout: float) -> Batch | None:
        """The oldest batch waiting, or None after ``timeout`` seconds without one."""
        with self._cond:
            if not self._queue and self.spool.empty and not self._closing:
                self._cond.wait(timeout)
            if self._queue:
                batch = self._queue.popleft()
                self._events -= len(batch.docs)
                return batch
        raw = self.spool.get()
        if raw is None:
            return None
        record = orjson.loads(raw)
        seq = int(record["seq"]) if record.get("run") == self._run else ORPHAN
        return Batch(record["docs"], source_id=str(record.get("source", "")), seq=seq)

    def close(self) -> None:
        """No more batches will be put: wake the courier so it can finish."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()

    @property
    def full(self) -> bool:
        """The disk buffer is full: stop reading."""
        return self.spool.full

    @property
    def memory_full(self) -> bool:
        return self._events >= self.max_events

    @property
    def events(self) -> int:
        """Events waiting in memory."""
        return self._events

    @property
    def empty(self) -> bool:
        with self._cond:
            return not self._queue and self.spool.empty

