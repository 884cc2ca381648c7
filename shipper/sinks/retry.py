"""What to do with each answer of Elasticsearch, and how long to wait before trying again.

Whole requests: 429/502/503/504 and connection errors are retried; 401/403 stop at once (a retry
loop cannot fix credentials); 413 splits the request. Items inside a 200: 2xx is delivered, 409 is
a document Elasticsearch already has (delivered), 429 and 5xx are re-sent (only those items),
other 4xx go to the dead letter, since re-sending a document its mapping rejects can never succeed.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass, field

RETRY_REQUEST_STATUSES = frozenset({429, 502, 503, 504})
STOP_REQUEST_STATUSES = frozenset({401, 403})


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

    def delay(self, attempt: int) -> float:
        ceiling = min(self.cap, self.initial * (2 ** min(attempt, 30)))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)
