"""What an abandoned Elasticsearch sink gives back: the documents Elasticsearch did not take.

`ElasticsearchSink.give_back` hands them to the daemon, which puts them in the disk buffer for the
next session's output (`shipper.daemon.switch`). A request that was in flight when the sink was
abandoned finished before (`close` waits for it): what its answer says Elasticsearch took (created,
or there already) is not given back, so that it is not sent again to another destination.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from shipper.event import Batch
from shipper.sinks.bulk import Chunk, Reply
from shipper.sinks.retry import Verdict, item_verdict


@dataclass(slots=True)
class Outcome:
    """The answer to one bulk request, as a worker thread read it."""

    status: int | None  # None: no HTTP answer (connection refused, timeout, TLS)
    body: Any = None  # a 200's `Reply`; else the error JSON Elasticsearch sent (or its text)
    error: BaseException | None = None


def batches_of(sink_name: str, waiting: list[Chunk], finished: dict[Future[Outcome], Chunk]) -> list[Batch]:
    """One batch of items per batch written (its ``seq``, in order): the items of the requests
    ``waiting`` to be sent, and those of the ``finished`` ones Elasticsearch did not take. The dead
    letter's copies (``seq`` -1) are left out: the dead letter's table keeps them."""
    items: dict[int, list[bytes]] = {}
    for chunk in waiting + [_not_taken(chunk, fut) for fut, chunk in finished.items()]:
        for item, seq in zip(chunk.items, chunk.seqs):
            if seq >= 0:
                items.setdefault(seq, []).append(item)
    return [Batch([], seq=seq, encoded={sink_name: its}) for seq, its in sorted(items.items())]


def _not_taken(chunk: Chunk, fut: Future[Outcome]) -> Chunk:
    """The items of a finished request that Elasticsearch did not take (all of them, unless it
    answered 200)."""
    outcome = fut.result() if fut.done() and not fut.cancelled() and fut.exception() is None else None
    reply = outcome.body if outcome is not None and outcome.status == 200 else None
    if not isinstance(reply, Reply):
        return chunk
    if reply.results is None:
        return Chunk()  # every item was created or there already
    kept = [i for i, result in enumerate(reply.results)
            if item_verdict(int(result.get("status", 0))) not in (Verdict.DELIVERED, Verdict.DUPLICATE)]
    return Chunk([chunk.items[i] for i in kept], [chunk.seqs[i] for i in kept])
