"""What the Elasticsearch sink tells the operator while documents wait for a retry.

An outage begins when a document first waits for a retry (a whole request refused or unanswered,
or items the cluster cannot take now) and is said once; it ends, and that is said too, when no
document waits any more. ``give_up_after`` bounds it. While it lasts the sink is `failing`: the
daemon shows the output as not connected and sends what it reads to the disk buffer.
"""

from __future__ import annotations

import time
from typing import Callable

from shipper.errors import UnavailableError
from shipper.sinks.bulk import Chunk


class Outage:
    def __init__(self, say: Callable[[str], None], give_up_after: float | None) -> None:
        self._say = say
        self._give_up_after = give_up_after
        self.since: float | None = None  # when the outage began (monotonic); None: no outage
        self.waiting = 0  # documents scheduled for a retry and not answered since

    @property
    def failing(self) -> bool:
        return self.since is not None

    def retry(self, chunk: Chunk, where: str, reason: str, first_message: str) -> None:
        """``chunk`` waits for a retry because of ``reason``: say ``first_message`` if that begins
        the outage; an `UnavailableError` once it has lasted ``give_up_after``."""
        now = time.monotonic()
        if chunk.failed_at is None:
            chunk.failed_at = now
        self.waiting += len(chunk)
        if self.since is None:
            self.since = now
            self._say(first_message)
        elif self._give_up_after is not None and now - self.since > self._give_up_after:
            raise UnavailableError(f"Elasticsearch at {where} has been failing for {now - self.since:.0f} s ({reason})",
                                   hint="nothing was lost: events not acknowledged are read again on the next run")

    def answered(self, chunk: Chunk) -> None:
        """An answer to ``chunk`` came (call before settling it)."""
        if chunk.failed_at is not None:
            self.waiting -= len(chunk)

    def settled(self, where: str, *, gave_up: bool) -> None:
        """After an answer was settled: the outage ends when no document waits for a retry any
        more. ``gave_up``: the last ones were dead-lettered (that was said), not delivered."""
        if self.since is not None and not self.waiting:
            if not gave_up:
                self._say(f"Elasticsearch at {where} answers again after {time.monotonic() - self.since:.0f} s")
            self.since = None


def duration(seconds: float) -> str:
    """``40 s``, ``6 min``: how long a retry went on, for a message."""
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"
