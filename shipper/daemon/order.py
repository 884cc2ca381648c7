"""Failures meet their causes in time order, across inputs.

The daemon reads its inputs side by side, each at its own pace: at a first start (or after a
stop) one turn may read a megabyte of /var/log/messages, hours of it, while /var/log/maillog is
read whole at once. Linked batch by batch as they come, a failure in messages could come before
the SYSERR in maillog that caused it, and be shipped as "no preceding error" (a replay merges its
inputs by @timestamp, so it links them right).

So a batch holding a failure or a cause (a document with ``rootcause.role``) waits here until no
input can still give an earlier event: until the watermark (the least @timestamp an input may
still deliver, given by the session) has passed its newest such document. Waiting batches leave
in the order they came, and their documents go through `Incidents` together, the inputs' merged
by @timestamp (each input's in its own order). Batches without such documents, nearly all, have
nothing to link and do not wait. A batch waits at most `MAX_WAIT` seconds, and at most
`MAX_WAITING` batches wait: an input whose clock is off must not hold the others back for good.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass
from typing import Callable

from shipper.enrich.base import Enricher
from shipper.enrich.incidents import epoch
from shipper.event import Doc

MAX_WAIT = 30.0
MAX_WAITING = 64


@dataclass
class Waiting:
    source_id: str
    roles: list[Doc]  # its documents with a rootcause role, in order (not empty)
    finish: Callable[[], None]  # encodes the batch and puts it in the outbox, once linked
    since: float  # monotonic time it began to wait

    def __post_init__(self) -> None:
        self.newest = max(_key(doc) for doc in self.roles)


def stamp(doc: Doc) -> float | None:
    """A document's @timestamp in seconds, None if it has none that reads."""
    try:
        return epoch(doc["@timestamp"])
    except (KeyError, TypeError, ValueError):
        return None


def _key(doc: Doc) -> float:
    ts = stamp(doc)
    return -math.inf if ts is None else ts


def roles_of(docs: list[Doc]) -> list[Doc]:
    """The documents `Incidents` reads: failures, causes and summaries."""
    return [doc for doc in docs if "role" in (doc.get("rootcause") or ())]


class Order:
    def __init__(self, incidents: Enricher) -> None:
        self._incidents = incidents
        self._queue: deque[Waiting] = deque()

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, waiting: Waiting) -> None:
        self._queue.append(waiting)

    def release(self, watermark: float, now: float) -> list[Waiting]:
        """The waiting batches at the front that no input can precede any more (with
        ``watermark`` infinite: all of them), their documents linked; the caller finishes them."""
        queue = self._queue
        out: list[Waiting] = []
        while queue and (queue[0].newest < watermark or now - queue[0].since >= MAX_WAIT or len(queue) > MAX_WAITING):
            out.append(queue.popleft())
        if out:
            by_input: dict[str, list[Doc]] = {}
            for waiting in out:
                by_input.setdefault(waiting.source_id, []).extend(waiting.roles)
            self._incidents.enrich(list(heapq.merge(*by_input.values(), key=_key)))
        return out
