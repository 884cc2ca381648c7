"""The sink interface and its acknowledgement contract.

``write`` takes a batch; the sink calls ``ack(batch.seq)`` once the batch is durably taken (a
committed SQLite transaction, a flushed file, Elasticsearch answered 2xx/409 or the item was
dead-lettered). It may ack later and out of order (requests in flight); ``flush`` returns only when
every batch written has been acknowledged. Counters are named and counted per sink.

Encoding is split from writing so that it can run in worker processes: ``encoder()`` returns a
picklable, pure callable that turns documents into this sink's items (one per document, in
order: bulk items, NDJSON lines, table rows). ``write`` uses ``batch.encoded[sink.name]`` when a
worker made them, and calls the encoder on ``batch.docs`` otherwise.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Callable, Protocol, runtime_checkable

from shipper.event import Batch, Doc

Ack = Callable[[int], None]
Encode = Callable[[list[Doc]], list[Any]]


def items_of(batch: Batch, name: str, encode: Encode) -> list[Any]:
    """The batch's items for the sink ``name``: a worker's, else ``encode(batch.docs)``."""
    if batch.encoded is not None:
        items = batch.encoded.get(name)
        if items is not None:
            return items
    return encode(batch.docs)


def sqlite_files(path: Path) -> list[Path]:
    """A SQLite database and the files SQLite writes beside it (`Sink.files`)."""
    return [path] + [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal")]


class Sink(Protocol):
    name: str
    counters: Counter[str]  # e.g. stored, duplicates, dead_lettered, retries

    @property
    def failing(self) -> bool:
        """Open, but not taking documents now (read on any thread): only a sink that retries on
        its own (the Elasticsearch sink) can be so; the daemon then counts its output as
        unreachable (`shipper.daemon.courier`)."""
        ...

    def open(self, ack: Ack) -> None: ...

    def encoder(self) -> Encode: ...

    def write(self, batch: Batch) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...

    def files(self) -> list[Path]:
        """The files it writes. Neither a replay nor the daemon reads them as inputs: a glob or a
        directory that takes in its own output would read back what it writes, without end."""
        ...


@runtime_checkable
class Probed(Protocol):
    """A sink whose destination can say, once it is open, whether what it will be sent will be
    refused (the Elasticsearch sink: the credentials' privileges)."""

    def check_writable(self) -> None:
        """Raises a `shipper.errors.ShipperError` saying why the destination would refuse what it is sent."""
        ...


@runtime_checkable
class Abandonable(Protocol):
    """A sink that can let go of what it holds (the Elasticsearch sink, which retries on its own:
    it may hold batches long after a reload's ``run.stop_timeout``)."""

    def abandon(self) -> None:
        """Any thread: send and acknowledge nothing more; `write` and `flush` return at once."""
        ...

    def give_back(self) -> list[Batch]:
        """After `abandon` and `close`: what the output did not take, as batches of items."""
        ...
