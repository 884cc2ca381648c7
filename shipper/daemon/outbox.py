"""Between the loop and the output: a bounded queue in memory that spills to the disk buffer.

The loop `put`s batches and never blocks. While the output takes them they stay in memory; when
the memory queue holds ``max_events`` the loop stops reading until there is room again. When the
output does not take batches (unreachable, or stalled), they are written to the `Spool` (memory is
what an outage must not fill), and so is everything after them while anything waits there (first
in, first out). When the
spool is `full`, the loop stops reading; when the output takes batches again, the loop waits
until the spool is drained. The courier thread `get`s batches in order: memory first, then disk.

Batches usually arrive already encoded for the sink (``Batch.encoded``: bulk items, bytes): on
disk such a record is a JSON header line (run, sequence number, source, sink, item count), the
items' lengths, then the items themselves, so spilling and reading back cost no serialisation.
Batches of documents (a sink whose items are not bytes) are written as one JSON object.

A batch read back from disk carries only its items (or documents) and its ledger sequence number;
its checkpoint stayed in the ledger. Batches a previous run left on disk come back with ``seq`` =
`ORPHAN`: the courier registers them anew (they release no checkpoint: their data is read again
from the inputs anyway, and the output recognises what it already has by ``event.id``).
"""

from __future__ import annotations

import os
import threading
from array import array
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


def encode_record(batch: Batch, run: str) -> bytes:
    """The spool record of a batch: its encoded items as they are, or its documents as JSON."""
    head: dict[str, Any] = {"run": run, "seq": batch.seq, "source": batch.source_id}
    if batch.encoded:
        (sink, items), = batch.encoded.items()
        if all(type(item) is bytes for item in items):
            head["sink"], head["n"] = sink, len(items)
            return b"".join((orjson.dumps(head), b"\n", array("I", map(len, items)).tobytes(), *items))
    head["docs"] = batch.docs
    return orjson.dumps(head, default=_default)


def decode_record(raw: bytes, run: str) -> Batch:
    """The batch of a spool record (``seq`` = `ORPHAN` when a previous run wrote it)."""
    line, _, body = raw.partition(b"\n")
    head = orjson.loads(line)
    seq = int(head["seq"]) if head.get("run") == run else ORPHAN
    source = str(head.get("source", ""))
    if "docs" in head:
        return Batch(head["docs"], source_id=source, seq=seq)
    sizes = array("I")
    sizes.frombytes(body[: 4 * int(head["n"])])
    view, at, items = memoryview(body), 4 * len(sizes), []
    for size in sizes:
        items.append(bytes(view[at:at + size]))
        at += size
    return Batch([], source_id=source, seq=seq, encoded={str(head["sink"]): items})


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
        """Queue a batch: on disk when ``spill`` (the output is not taking batches), else in memory
        (the loop stops reading when the memory queue is full, so it may go over ``max_events`` by
        what one turn read). Once anything waits on disk, so does what follows."""
        with self._cond:
            if self.spool.empty and not spill:
                self._queue.append(batch)
                self._events += batch.count
            else:
                self.spool.put(encode_record(batch, self._run))
            self._cond.notify()

    def get(self, timeout: float) -> Batch | None:
        """The oldest batch waiting, or None after ``timeout`` seconds without one."""
        with self._cond:
            if not self._queue and self.spool.empty and not self._closing:
                self._cond.wait(timeout)
            if self._queue:
                batch = self._queue.popleft()
                self._events -= batch.count
                return batch
        raw = self.spool.get()
        return decode_record(raw, self._run) if raw is not None else None

    def keep(self) -> None:
        """At a stop whose output did not take everything (unreachable: queued before it was found
        so; or stuck past ``run.stop_timeout``): the batches waiting in memory go to the disk
        buffer, for the next start or the next configuration's output, rather than be left to the
        inputs, which may no longer hold their lines then."""
        with self._cond:
            while self._queue:
                batch = self._queue.popleft()
                self._events -= batch.count
                self.spool.put(encode_record(batch, self._run))

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
