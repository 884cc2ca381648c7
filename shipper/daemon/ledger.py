"""The batches on their way to the output, and the checkpoints their acknowledgements release.

A thread-safe front of `AckTracker`: the loop registers batches, the courier thread acknowledges
them (the sink calls back on that thread), and the loop collects the checkpoints released since
it last looked. Per-input figures (events shipped, the age of the oldest batch in flight) are kept
here too, since only the ledger sees both ends.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass

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
        self._tracker = AckTracker(sinks=1)
        self._flight: dict[int, _InFlight] = {}  # by seq, oldest first
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
            self._tracker.ack(seq)
            flight = self._flight.pop(seq)
            self.shipped[flight.input_key] += flight.docs

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
        with self._lock:
            return self._tracker.in_flight

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
