"""What to do with each answer of Elasticsearch, and how long to wait before trying again.

Whole requests: 429, 500, 502, 503, 504 and connection errors are retried (a 500 on ``_bulk`` is
a failure of the server or of a proxy before it, as a 502-504 is; ``give_up_after`` bounds them
all); 401/403 stop at once (a retry loop cannot fix credentials); 413 splits the request.

Items inside a 200: 2xx is delivered, 409 is a document Elasticsearch already has (delivered).
429 (``es_rejected_execution_exception``: the write queue is full) and 502/503/504 (a shard not
active, a cluster block, a node gone) are *transient*: the cluster cannot take the document now and
will later. Other 5xx items are retried too, ``max_item_retries`` times (the retries of whole
requests before do not count), then dead-lettered: a 500 on one document may be that document
tripping a server bug, and must not hold the rest back for ever. Other 4xx go to the dead letter,
since re-sending a document its mapping rejects can never succeed.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass, field

RETRY_REQUEST_STATUSES = frozenset({429, 500, 502, 503, 504})
STOP_REQUEST_STATUSES = frozenset({401, 403})
TRANSIENT_ITEM_STATUSES = frozenset({429, 502, 503, 504})


class Verdict(enum.Enum):
    DELIVERED = "delivered"
    DUPLICATE = "duplicate"
    RETRY = "retry"
    DEAD = "dead"  # this document can never be indexed as it is: dead letter
    STOP = "stop"  # a problem of the setup, not of the document (403 on an item, 404 data stream)


def item_verdict(status: int) -> Verdict:
    if 200 <= status < 300:
        return Verdict.DELIVERED
    if status == 409:
        return Verdict.DUPLICATE
    if status == 429 or status >= 500:
        return Verdict.RETRY
    if status in (401, 403, 404):
        return Verdict.STOP
    return Verdict.DEAD


@dataclass
class Backoff:
    """Exponential backoff with jitter and a cap: attempt n waits in [d/2, d], d = min(cap, initial·2ⁿ).

    Half the delay is fixed so a storm of retries cannot come back at once, half is random so
    several shippers do not retry in lockstep.
    """

    initial: float
    cap: float
    rng: random.Random = field(default_factory=random.Random)

    def ceiling(self, attempt: int) -> float:
        return min(self.cap, self.initial * (2 ** min(attempt, 30)))

    def delay(self, attempt: int) -> float:
        ceiling = self.ceiling(attempt)
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    def total(self, attempts: int, first: int = 0) -> float:
        """About how long ``attempts`` retries take (the mean of each wait), the first of them
        attempt ``first``, for messages."""
        return sum(0.75 * self.ceiling(n) for n in range(first, first + attempts))
