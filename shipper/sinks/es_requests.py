"""The Elasticsearch sink's requests (`shipper.sinks.elasticsearch`): those waiting to be sent and
those in flight.

A request waits in a queue until it is due (at once, or after a retry's backoff) and a connection
is free (at most ``max_in_flight``); then a thread of the pool sends it and reads the answer
(`send_bulk`), as data. `Requests.finished` hands the answers to the caller's thread, which settles
them. `Requests.abandon` (any thread) ends every wait at once and sends nothing more; what was
queued or had finished stays, for `ElasticsearchSink.give_back`.
"""

from __future__ import annotations

import heapq
import itertools
import time
from concurrent.futures import FIRST_COMPLETED, Future, InvalidStateError, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any, Callable, Iterator

import orjson

from shipper.sinks.bulk import FILTER_PATH, Chunk, read_reply
from shipper.sinks.es_giveback import Outcome

if TYPE_CHECKING:
    from shipper.sinks.es_client import Connection


class Requests:
    def __init__(self, max_in_flight: int) -> None:
        self._max_in_flight = max_in_flight
        self.inflight: dict[Future[Outcome], Chunk] = {}
        self.queue: list[tuple[float, int, Chunk]] = []  # requests to send: heap of (due, tie-breaker, chunk)
        self._ticket = itertools.count()
        self._pool: ThreadPoolExecutor | None = None
        self._send: Callable[[Chunk], Outcome] | None = None
        self._abandoned: Future[None] = Future()  # done once `abandon` was called: it ends every wait

    def open(self, send: Callable[[Chunk], Outcome]) -> None:
        """Start the threads, which ``send`` each request."""
        self._send = send
        self._pool = ThreadPoolExecutor(max_workers=self._max_in_flight, thread_name_prefix="shipper-es")

    def close(self) -> None:
        """Stop the threads (a request in flight is let finish; those not started are dropped)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    @property
    def idle(self) -> bool:
        """No request in flight or waiting."""
        return not self.inflight and not self.queue

    @property
    def abandoned(self) -> bool:
        return self._abandoned.done()

    def abandon(self) -> None:
        """Let go (any thread): send nothing more; a wait in progress returns at once."""
        try:
            self._abandoned.set_result(None)
        except InvalidStateError:
            pass  # (abandoned already)

    def schedule(self, chunk: Chunk, delay: float) -> None:
        """Queue a request, to be sent ``delay`` seconds from now or later, once a connection is free."""
        heapq.heappush(self.queue, (time.monotonic() + delay, next(self._ticket), chunk))

    def finished(self, block: bool) -> Iterator[tuple[Chunk, Outcome]]:
        """Send the requests that are due, then the finished ones with their answers, each taken
        out of ``inflight`` as it is yielded (waiting for one if ``block``, or for `abandon`)."""
        self._send_due()
        if not self.inflight:
            if block and self.queue:
                wait([self._abandoned], timeout=max(0.0, self.queue[0][0] - time.monotonic()))
                self._send_due()
            return
        if block:
            timeout = None
            if self.queue and len(self.inflight) < self._max_in_flight:
                timeout = max(0.0, self.queue[0][0] - time.monotonic())
            waited: list[Future[Any]] = [*self.inflight, self._abandoned]
            done = wait(waited, timeout=timeout, return_when=FIRST_COMPLETED)[0]
        else:
            done = {f for f in self.inflight if f.done()}
        if self._abandoned.done():
            return  # (what finished stays in inflight, for `give_back`)
        for fut in done:
            yield self.inflight.pop(fut), fut.result()

    def _send_due(self) -> None:
        if self._abandoned.done():
            return
        now = time.monotonic()
        while self.queue and self.queue[0][0] <= now and len(self.inflight) < self._max_in_flight:
            assert self._pool is not None and self._send is not None
            chunk = heapq.heappop(self.queue)[2]
            self.inflight[self._pool.submit(self._send, chunk)] = chunk


def send_bulk(conn: Connection, chunk: Chunk) -> Outcome:
    """Runs on a worker thread: one bulk request, its answer read (or its failure) as data."""
    from elastic_transport import TransportError
    from elasticsearch import ApiError

    assert conn.bulk is not None
    try:
        resp = conn.bulk.bulk(body=chunk.body(), filter_path=FILTER_PATH)  # type: ignore[arg-type]
    except ApiError as exc:
        return Outcome(exc.meta.status, _decoded(exc.body), exc)
    except TransportError as exc:
        return Outcome(None, None, exc)
    try:
        return Outcome(resp.meta.status, read_reply(resp.body, len(chunk)))
    except ValueError as exc:
        return Outcome(resp.meta.status, None, exc)


def _decoded(body: Any) -> Any:
    """An error answer's JSON (or its text, when it is not JSON)."""
    if not isinstance(body, (bytes, bytearray)):
        return body
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.decode("utf-8", "replace")
