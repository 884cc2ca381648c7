"""Failures meet their causes in time order, across inputs read side by side.

Inputs are read side by side, each at its own pace: at a first start the daemon may read a
megabyte of /var/log/messages, hours of it, in one turn while /var/log/maillog is read whole at
once, and a parallel replay of several inputs takes their blocks as workers finish them. Linked as
they come, a failure in messages could come before the SYSERR in maillog that caused it, and be
shipped as "no recognised error".

So the documents `Incidents` reads (failures, causes: ``rootcause.role``) wait here, and go to
it in @timestamp order across inputs, each input's in its own order, up to the watermark (the
least @timestamp an input may still deliver, given by the caller). So the documents of one
@timestamp go together, and `Incidents` links those of several inputs causes first
(`shipper.enrich.moment`), whatever the order of the inputs. A batch leaves once its own
such documents are linked; batches without any have nothing to link and need not wait. A batch
waits at most ``max_wait`` seconds, and at most ``max_waiting`` batches wait: an input whose clock
is off must not hold the others back for good (the oldest batch is then linked with everything
before it).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from shipper.enrich.base import Enricher
from shipper.enrich.incidents import epoch
from shipper.event import Doc


@dataclass(eq=False)
class Waiting:
    source_id: str
    roles: list[Doc]  # its documents with a rootcause role, in order (not empty)
    finish: Callable[[], None]  # encodes the batch and writes it, once linked
    since: float  # monotonic time it began to wait

    def __post_init__(self) -> None:
        self.keys = [_key(doc) for doc in self.roles]
        self.newest = max(self.keys)
        self.left = len(self.roles)  # not linked yet


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
    def __init__(self, incidents: Enricher, max_wait: float, max_waiting: int, inputs: Sequence[str] = (),
                 window: float = 0.0) -> None:
        """``inputs``: the order of inputs whose documents have the same @timestamp (else: as
        they first come). ``window``: how long after a record an input holds back (`release`)
        the documents of other inputs wait for it: the incident window, past which it cannot
        be linked with them."""
        self._incidents = incidents
        self._max_wait, self._max_waiting = max_wait, max_waiting
        self._window = window
        self._batches: deque[Waiting] = deque()
        self._inputs: dict[str, deque[tuple[float, Doc, Waiting]]] = {name: deque() for name in inputs}

    def __len__(self) -> int:
        return len(self._batches)

    def add(self, waiting: Waiting) -> None:
        self._batches.append(waiting)
        queue = self._inputs.setdefault(waiting.source_id, deque())
        queue.extend((key, doc, waiting) for key, doc in zip(waiting.keys, waiting.roles))

    def release(self, watermark: float, now: float, held: Mapping[str, float] | None = None) -> list[Waiting]:
        """Link the documents no input can precede any more (all of them with ``watermark``
        infinite), and those of batches that waited too long; the batches now linked, in the
        order they came (the caller finishes them). ``held``: per input, the @timestamp of a
        record it holds back (a parser's open record), which the other inputs' documents from
        then on wait for, within the window (an input whose clock is hours behind holds nobody)."""
        done: list[Waiting] = []
        linked: list[Doc] = []
        while True:
            taken = self._take(watermark, held or {})
            if taken:
                linked += taken
                done += [w for w in self._batches if not w.left]
                self._batches = deque(w for w in self._batches if w.left)
            head = self._batches[0] if self._batches else None
            if head is None or (now - head.since < self._max_wait and len(self._batches) <= self._max_waiting):
                break
            watermark = max(watermark, math.nextafter(head.newest, math.inf))
        if linked:
            self._incidents.enrich(linked)
        return done

    def _waits(self, source: str, key: float, held: Mapping[str, float]) -> bool:
        return any(t <= key < t + self._window for other, t in held.items() if other != source)

    def _take(self, watermark: float, held: Mapping[str, float]) -> list[Doc]:
        """The waiting documents before ``watermark`` and before what other inputs hold back:
        the inputs' merged by @timestamp."""
        out: list[Doc] = []
        queues = list(self._inputs.items())
        while True:
            best: tuple[str, deque[tuple[float, Doc, Waiting]]] | None = None
            for name, queue in queues:
                if queue and queue[0][0] < watermark and (best is None or queue[0][0] < best[1][0][0]):
                    best = name, queue
            if best is None or self._waits(best[0], best[1][0][0], held):
                return out
            _, doc, waiting = best[1].popleft()
            waiting.left -= 1
            out.append(doc)
