"""The local sink's writer thread: SQLite's work overlaps the caller's.

Python's sqlite3 releases the GIL while SQLite runs a statement, which is most of an insert's cost
(the B-tree, the unique index, the full-text index, the WAL), so a thread that does the inserts
leaves the caller free to unpickle, link and encode the next batches meanwhile (a parallel replay's
main process: ~4 us a row moves off its thread). The caller hands over (seq, rows) pairs; the
thread takes what waits, up to `DEPTH` batches, and writes them in one transaction (fewer commits),
then reports them as committed. Acknowledging stays with the caller (the `Sink` contract: ``ack``
runs in ``write``/``flush``, on the caller's thread), and only for what `committed` returned.

The queue is bounded (`DEPTH` batches): a caller faster than the disk waits in `put`. After a
failed transaction the thread writes nothing more (its batches and all later ones stay
unacknowledged, as the contract wants: nothing is lost, they are read again next time) and the
caller gets the error from its next `put` or `wait`.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from dataclasses import dataclass
from itertools import chain
from typing import Any, Iterable, Protocol

Rows = list[tuple[Any, ...]]
DEPTH = 4


class RowStore(Protocol):
    def insert_rows(self, rows: Iterable[tuple[Any, ...]]) -> int: ...


@dataclass(frozen=True, slots=True)
class Commit:
    """Batches written in one transaction: their seqs, rows, and the rows that were new."""

    seqs: list[int]
    rows: int
    added: int


class Writer:
    def __init__(self, store: RowStore) -> None:
        self._store = store
        self._queue: queue.Queue[tuple[int, Rows] | None] = queue.Queue(DEPTH)
        self._committed: deque[Commit] = deque()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="shipper-local-writer", daemon=True)
        self._thread.start()

    def put(self, seq: int, rows: Rows) -> None:
        """Queues a batch (waits while `DEPTH` batches wait); raises the thread's error, if any."""
        self._check()
        self._queue.put((seq, rows))

    def committed(self) -> list[Commit]:
        """The transactions committed since the last call, in order."""
        out = []
        while self._committed:
            out.append(self._committed.popleft())
        return out

    def wait(self) -> None:
        """Returns when every queued batch is committed; raises the thread's error, if any."""
        self._queue.join()
        self._check()

    def stop(self) -> None:
        """Ends the thread once it has written what is queued (not acknowledged: no `committed` after this)."""
        self._queue.put(None)
        self._thread.join()

    def _check(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        while True:
            group = self._take()
            batches = [item for item in group if item is not None]
            try:
                if batches and self._error is None:
                    self._write(batches)
            except BaseException as exc:  # handed to the caller (its next put or wait)
                self._error = exc
            finally:
                for _ in group:
                    self._queue.task_done()
            if group[-1] is None:
                return

    def _take(self) -> list[tuple[int, Rows] | None]:
        """The next item, and up to `DEPTH` - 1 queued after it (up to the end marker, None)."""
        group = [self._queue.get()]
        while group[-1] is not None and len(group) < DEPTH:
            try:
                group.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return group

    def _write(self, batches: list[tuple[int, Rows]]) -> None:
        rows = sum(len(r) for _, r in batches)
        added = self._store.insert_rows(chain.from_iterable(r for _, r in batches)) if rows else 0
        self._committed.append(Commit([seq for seq, _ in batches], rows, added))
