"""The batches on their way to the output, and the checkpoints their acknowledgements release.

A thread-safe front of `AckTracker`: the loop registers batches, the courier thread acknowledges
them (the sink calls back on that thread), and the loop collects the checkpoints released since
it last looked. A batch written to the disk buffer's files releases its checkpoint as one
acknowledged does (`kept`: the buffer delivers it, even after a crash, and its lines are not read
again from the inputs; the session syncs the buffer before it saves the checkpoints). Per-input
figures (events shipped, the age of the oldest batch in flight) are kept here too, since only the
ledger sees both ends.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from typing import Callable

from shipper.acks import AckTracker


@dataclass(slots=True)
class _InFlight:
    source_id: str
    input_key: str
    docs: int
    read_at: float  # when the batch was read (monotonic)


class Ledger:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tracker = AckTracker(sinks=1)  # (a batch in the disk buffer's files counts as acknowledged)
        self._flight: dict[int, _InFlight] = {}  # by seq, oldest first: not acknowledged by the output
        self._kept: set[int] = set()  # ... of them, those in the disk buffer's files
        self.acked: Callable[[int], None] = _nothing  # told each acknowledgement (`Outbox.acked`)
        self._seen: dict[str, object] = {}  # source id -> the checkpoint last handed out
        self.shipped: Counter[str] = Counter()  # events acknowledged, by input key

    def register(self, source_id: str, checkpoint: object | None, input_key: str, docs: int, read_at: float) -> int:
        with self._lock:
            seq = self._tracker.register(source_id, checkpoint)
            self._flight[seq] = _InFlight(source_id, input_key, docs, read_at)
            if checkpoint is not None:
                self._seen.setdefault(source_id, None)
            return seq

    def ack(self, seq: int) -> None:
        """The sink's callback (any thread)."""
        with self._lock:
            if seq in self._kept:
                self._kept.discard(seq)
            else:
                self._tracker.ack(seq)
            flight = self._flight.pop(seq)
            self.shipped[flight.input_key] += flight.docs
        self.acked(seq)

    def kept(self, seq: int) -> None:
        """Batch ``seq`` is in the disk buffer's files: its checkpoint is released as if it was
        acknowledged (`Outbox.kept`)."""
        with self._lock:
            if seq in self._flight and seq not in self._kept:
                self._kept.add(seq)
                self._tracker.ack(seq)

    def released(self) -> dict[str, object]:
        """Checkpoints committed since the last call, by source id."""
        out: dict[str, object] = {}
        with self._lock:
            for source_id, last in self._seen.items():
                now = self._tracker.committed(source_id)
                if now is not None and now is not last:
                    out[source_id] = self._seen[source_id] = now
        return out

    def forget(self, source_id: str) -> None:
        """A stream that is gone: stop looking at its checkpoints."""
        with self._lock:
            self._seen.pop(source_id, None)

    @property
    def in_flight(self) -> int:
        """Batches the output did not acknowledge."""
        with self._lock:
            return len(self._flight)

    @property
    def in_buffer(self) -> int:
        """Batches the output did not acknowledge that are in the disk buffer's files."""
        with self._lock:
            return len(self._kept)

    def oldest(self, input_key: str | None = None) -> float | None:
        """When the oldest batch still in flight (of one input) was read, None if none is."""
        with self._lock:
            for flight in self._flight.values():
                if input_key is None or flight.input_key == input_key:
                    return flight.read_at
        return None

    def snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self.shipped)


def _nothing(seq: int) -> None:
    """`Ledger.acked` until the session gives it its outbox's."""
