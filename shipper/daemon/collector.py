"""Python's cyclic garbage collector in the daemon: run by the loop once a second, not by allocations.

An event allocates about ten containers on its way (fields, document, batch lists). Documents
hold no reference cycles, so the collector never finds garbage among them; but with its default
thresholds it runs every 700 allocations, and the documents that wait in a batch are promoted
and walked again by the older generations: 0.7-1.2 µs of CPU an event in collections, against
0.15-0.2 µs this way (the daemon reading a journal of 200k entries), of the 10 µs the daemon may
spend on one. Here the objects made at startup (modules, rules, the
configuration) are frozen out of its reach (`gc.freeze`), automatic collection is off, and the
loop collects every generation once every `PERIOD` seconds: a cycle made meanwhile (an exception
with its traceback, the HTTP client's objects) is freed within that time.
"""

from __future__ import annotations

import gc

PERIOD = 1.0


class Collector:
    def __init__(self, period: float = PERIOD) -> None:
        self.period = period
        self._next = 0.0
        self._was_enabled = False
        self.collections = 0

    def start(self, now: float) -> None:
        """Freeze what exists now and take over from the automatic collection."""
        self._was_enabled = gc.isenabled()
        gc.collect()
        gc.freeze()
        gc.disable()
        self._next = now + self.period

    def tick(self, now: float) -> None:
        """Collect if `period` seconds have passed since the last time."""
        if now >= self._next:
            self._next = now + self.period
            gc.collect()
            self.collections += 1

    def stop(self) -> None:
        """Hand the collection back as it was before `start`."""
        gc.unfreeze()
        if self._was_enabled:
            gc.enable()
