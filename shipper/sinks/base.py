"""The sink interface and its acknowledgement contract.

``write`` takes a batch; the sink calls ``ack(batch.seq)`` once the batch is durably taken (a
committed SQLite transaction, a flushed file, Elasticsearch answered 2xx/409 or the item was
dead-lettered). It may ack later and out of order (requests in flight); ``flush`` returns only when
every batch written has been acknowledged. Counters are named and counted per sink.
"""

from __future__ import annotations

from collections import Counter
from typing import Callable, Protocol

from shipper.event import Batch

Ack = Callable[[int], None]


class Sink(Protocol):
    name: str
    counters: Counter[str]  # e.g. stored, duplicates, dead_lettered, retries

    def open(self, ack: Ack) -> None: ...

    def write(self, batch: Batch) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...
