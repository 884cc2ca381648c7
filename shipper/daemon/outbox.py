"""Between the loop and the output: a bounded queue in memory that spills to the disk buffer.

The loop `put`s batches and never blocks. While the output takes them they stay in memory; when
the memory queue holds ``max_events`` the loop stops reading until there is room again. When the
output does not take batches (unreachable, or stalled), they are written to the `Spool` (memory is
what an outage must not fill), and so is everything after them while anything waits there (first
in, first out); those in memory when the output is found unreachable follow them (`keep`). When the
spool is `full`, the loop stops reading; when the output takes batches again, the loop waits
until the spool is drained. The courier thread `get`s batches in order: memory first, then disk.

Batches usually arrive already encoded for the sink (``Batch.encoded``: bulk items, bytes): on
disk such a record is a JSON header line (run, sequence number, source, sink, item count), the
items' lengths, then the items themselves, so spilling and reading back cost no serialisation.
Batches of documents (a sink whose items are not bytes) are written as one JSON object.

A batch read back from disk carries only its items (or documents) and its ledger sequence number;
its checkpoint stayed in the ledger, which counted it as safe once it was in the files (`kept`:
its lines are not read again from the inputs). Its record stays in the files until the output
acknowledges it (`acked`: `Spool.release`), so that a crash meanwhile loses nothing. Batches an
earlier run or session left on disk come back with ``seq`` = `ORPHAN`: ``adopt`` makes them this
session's (encoded for its output, registered with the ledger: `shipper.daemon.adopt`).
"""

from __future__ import annotations

import os
import threading
from array import array
from collections import deque
from typing import Any, Callable

import orjson

from shipper.event import Batch
from shipper.state.spool import Spool

ORPHAN = -1
Adopt = Callable[[Batch], Batch]  # a batch of an earlier run, made this session's (its ``seq`` set)


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
    def __init__(self, spool: Spool, max_events: int, adopt: Adopt | None = None) -> None:
        self.spool = spool
        self.max_events = max_events
        self._queue: deque[Batch] = deque()
        self._events = 0  # events in the memory queue
        self._cond = threading.Condition()
        self._closing = False
        self._run = os.urandom(8).hex()  # tells this run's records on disk from a previous run's
        self._adopt = adopt
        self.kept: Callable[[int], None] = _nothing  # told each batch (``seq``) once it is in the files
        self._tickets: dict[int, int] = {}  # seq -> `Spool.take`'s ticket, of batches taken from the files
        self._out: dict[int, Batch] = {}  # batches taken from memory, by seq, until the output acknowledges them
        self._spilled: deque[int] = deque()  # seqs of the batches that wait in the disk buffer's memory

    def put(self, batch: Batch, spill: bool = True) -> None:
        """Queue a batch: on disk when ``spill`` (the output is not taking batches), else in memory
        (the loop stops reading when the memory queue is full, so it may go over ``max_events`` by
        what one turn read). Once anything waits on disk, so does what follows. A batch taken from
        the files and given back (`shipper.daemon.switch.give_back`) is there still."""
        with self._cond:
            if batch.seq in self._tickets:
                on_disk = True
            elif self._out.pop(batch.seq, None) is not None:
                on_disk = self._spill(batch)
            elif self.spool.empty and not spill:
                self._queue.append(batch)
                self._events += batch.count
                on_disk = False
            else:
                on_disk = self._spill(batch)
            self._cond.notify()
        if on_disk:
            self.kept(batch.seq)

    def _spill(self, batch: Batch) -> bool:
        """To the disk buffer (the lock held): True when it is in the files."""
        if self.spool.put(encode_record(batch, self._run)):
            return True
        self._spilled.append(batch.seq)
        return False

    def get(self, timeout: float) -> Batch | None:
        """The oldest batch waiting, or None after ``timeout`` seconds without one."""
        with self._cond:
            if not self._queue and self.spool.empty and not self._closing:
                self._cond.wait(timeout)
            if self._queue:
                batch = self._queue.popleft()
                self._events -= batch.count
                self._out[batch.seq] = batch
                return batch
        taken = self.spool.take()
        if taken is None:
            return None
        raw, ticket = taken
        batch = decode_record(raw, self._run)
        if batch.seq == ORPHAN and self._adopt is not None:
            batch = self._adopt(batch)
        with self._cond:
            if ticket is None:
                self._spilled.popleft()  # (it waited in the buffer's memory)
                self._out[batch.seq] = batch
            elif batch.seq != ORPHAN:
                self._tickets[batch.seq] = ticket
        if ticket is not None and batch.seq == ORPHAN:
            self.spool.release(ticket)  # (no one to acknowledge it)
        elif ticket is not None:
            self.kept(batch.seq)  # (an earlier run's: a ledger it is new to)
        return batch

    def acked(self, seq: int) -> None:
        """The output acknowledged batch ``seq`` (any thread): taken from the files, it leaves them."""
        with self._cond:
            ticket = self._tickets.pop(seq, None)
            self._out.pop(seq, None)
        if ticket is not None:
            self.spool.release(ticket)

    def keep(self) -> None:
        """The batches waiting in memory go to the disk buffer (any thread): when the output is found
        unreachable (`shipper.daemon.courier`: they were queued before it was found so, and would
        wait in memory, their checkpoints held back, for as long as the outage lasts), and at a stop
        whose output did not take everything (unreachable, or stuck past ``run.stop_timeout``), for
        the next start or the next configuration's output, rather than be left to the inputs, which
        may no longer hold their lines then."""
        kept = []
        with self._cond:
            while self._queue:
                batch = self._queue.popleft()
                self._events -= batch.count
                if self._spill(batch):
                    kept.append(batch.seq)
        for seq in kept:
            self.kept(seq)

    def store(self) -> None:
        """At the end of the session, after `keep`: the batches the output took from memory and did
        not acknowledge (the write it is stuck in, those it holds) are copied to the disk buffer
        too, which then writes what waits in its memory to its files and syncs them (`Spool.close`):
        the checkpoints saved after count every batch read. (A write that was in progress and ends
        after all, at a reload, is the one whose lines may be delivered twice.)"""
        with self._cond:
            out, self._out = list(self._out.values()), {}
            kept = [batch.seq for batch in out if self._spill(batch)]
        for seq in kept:
            self.kept(seq)
        self.spool.close(keep=True)
        with self._cond:
            spilled, self._spilled = list(self._spilled), deque()
        for seq in spilled:
            self.kept(seq)

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


def _nothing(seq: int) -> None:
    """`Outbox.kept` until the session gives it its ledger's."""
