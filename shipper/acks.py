"""Acknowledgements: a checkpoint moves only when every batch before it has been taken durably.

Sinks acknowledge batches, possibly out of order (bulk requests in flight, retries). The tracker
keeps, per source, the batches handed to the sinks and releases the checkpoint of the longest
acknowledged prefix. Sources persist only what `committed()` returns.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field


@dataclass
class AckTracker:
    sinks: int = 1  # a batch is acknowledged when every sink has acknowledged it
    _next_seq: int = 0
    _pending: "OrderedDict[int, list[object]]" = field(default_factory=OrderedDict)
    _committed: dict[str, object] = field(default_factory=dict)

    def register(self, source_id: str, checkpoint: object | None) -> int:
        """Record a batch about to be sent; returns its sequence number."""
        seq = self._next_seq
        self._next_seq += 1
        # [source_id, checkpoint, acks still missing]
        self._pending[seq] = [source_id, checkpoint, self.sinks]
        return seq

    def ack(self, seq: int) -> None:
        entry = self._pending.get(seq)
        if entry is None:
            raise KeyError(f"batch {seq} was acknowledged twice or never registered")
        entry[2] = int(entry[2]) - 1  # type: ignore[call-overload]
        self._release()

    def _release(self) -> None:
        while self._pending:
            seq, (source_id, checkpoint, missing) = next(iter(self._pending.items()))
            if missing:
                return
            del self._pending[seq]
            if checkpoint is not None:
                self._committed[str(source_id)] = checkpoint

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    def committed(self, source_id: str) -> object | None:
        return self._committed.get(source_id)
