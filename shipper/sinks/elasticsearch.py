"""The Elasticsearch sink: bulk requests in flight, retries item by item, a dead letter, acks.

Threads only carry requests: encoding, retry decisions, dead-lettering and every ``ack`` happen
on the caller's thread inside `write`/`flush` (the pipeline is single-threaded). A batch is
acknowledged once Elasticsearch has each of its documents (2xx or 409) or the document is in
the dead letter. Events accepted and not yet settled are bounded by ``max_held_events``: when the
bound is reached, `write` waits (backpressure); nothing is ever dropped. Below it, full requests
queue for one of the ``max_in_flight`` connections and `write` returns at once.

Per document, the caller's thread only moves item lists (`Chunker`); a request thread
(`shipper.sinks.es_requests`) joins them into one body and reads the reply on its bytes
(`read_reply`): a reply where every item was created or already there is settled without decoding
it item by item.

While documents wait for a retry the sink is `failing` (`shipper.sinks.es_outage`). Items the
cluster cannot take now (429, 502-504: `shipper.sinks.retry`) are retried without end in the daemon,
like a whole request; in a replay (a command that ends) so are 429s (the write queue is full: the
cluster is there, and drains it), while 502/503/504 items go to the dead letter after
``max_item_retries`` retries, and the sink says how many, after how long, and why (`_endless`).
That bound counts the sends that came of items failing (`Chunk.item_retries`), not the retries of
a whole request that failed before (those are bounded by ``give_up_after``); the messages count
every send (`Chunk.attempt`, also the backoff's exponent).

`abandon` (any thread) lets go at once: a reload whose ``run.stop_timeout`` ran out while the
sink retried must not deliver what it holds to the old destination later. It sends nothing more
and acknowledges nothing; `give_back` then returns what Elasticsearch did not take, for the disk
buffer (`shipper.daemon.switch`).

Counters: ``indexed``, ``duplicates`` (409: already there, delivered), ``retried_items`` (item-level
429/5xx re-sent), ``request_retries`` (whole requests: 429/5xx, connection errors),
``dead_lettered``, ``deadletter_index_failed`` (the dead letter's own copy refused; the local table
has it), ``requests``.
"""

from __future__ import annotations

import time
from collections import Counter
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipper.config.elasticsearch import ElasticsearchOutput
from shipper.env import Env
from shipper.errors import OutputError, UnavailableError
from shipper.event import Batch
from shipper.sinks import es_privileges
from shipper.sinks.base import Ack, Encode, items_of, sqlite_files
from shipper.sinks.bulk import DEADLETTER_DATASET, Chunk, Chunker, Encoder, Reply
from shipper.sinks.deadletter import FILENAME, DeadLetterStore, Letter
from shipper.sinks.es_deadletter import check_state_dir, copy_of, letter_of
from shipper.sinks.es_errors import connection_reason, error_reason
from shipper.sinks.es_giveback import Outcome, batches_of
from shipper.sinks.es_outage import Outage, duration
from shipper.sinks.es_requests import Requests, send_bulk
from shipper.sinks.retry import (
    RETRY_REQUEST_STATUSES,
    STOP_REQUEST_STATUSES,
    TRANSIENT_ITEM_STATUSES,
    Backoff,
    Verdict,
    item_verdict,
)

if TYPE_CHECKING:
    from shipper.sinks.es_client import Connection

INDEX_TEMPLATE = "logs-shipper"


class ElasticsearchSink:
    name = "elasticsearch"

    def __init__(self, cfg: ElasticsearchOutput, state_dir: Path, env: Env, *, check_setup: bool = True,
                 daemon: bool = False) -> None:
        """``check_setup``: warn when `shipper setup` has not installed the index template (a
        replay's workers, which send with a sink each, leave that to the main process's).
        ``daemon`` (`shipper run`): items the cluster cannot take now are retried without end,
        never dead-lettered; and `open` does not make ``state_dir`` (where the dead letter goes),
        which the daemon's lock made: missing, it was deleted while the daemon ran, and `open`
        fails rather than make it again. Otherwise `open` makes it if it is not there."""
        self.cfg = cfg
        self.check_setup = check_setup
        self.daemon = daemon
        self.state_dir = state_dir
        self.env = env
        self.counters: Counter[str] = Counter()
        self._encoder = Encoder(cfg.namespace)
        self._chunker = Chunker(cfg.bulk_docs, int(cfg.bulk_max_bytes))
        self._backoff = Backoff(float(cfg.retry_initial), float(cfg.retry_max))
        self._remaining: dict[int, int] = {}  # batch seq -> its documents not yet settled
        self._requests = Requests(cfg.max_in_flight)
        self._held = 0  # documents accepted by write() and not yet settled
        self._outage = Outage(self._say, None if cfg.give_up_after is None else float(cfg.give_up_after))
        self._ack: Ack | None = None
        self._conn: Connection | None = None
        self._deadletter: DeadLetterStore | None = None

    # -- the Sink protocol ------------------------------------------------------------------------
    def open(self, ack: Ack) -> None:
        check_state_dir(self.state_dir, make=not self.daemon)
        self._ack = ack
        # The official client is imported when the sink opens, not with this module: a replay
        # forks its worker processes before, and they start without its modules (13 MB each).
        from shipper.sinks.es_client import connect  # noqa: PLC0415

        self._conn = connect(self.cfg, self.env, bulk=True)
        self._requests.open(partial(send_bulk, self._conn))
        if self.check_setup:
            self._warn_if_not_set_up()

    def encoder(self) -> Encode:
        return self._encoder

    def write(self, batch: Batch) -> None:
        assert self._ack is not None, "open() first"
        items = items_of(batch, self.name, self._encoder.encode)
        if not items:
            self._ack(batch.seq)
            return
        self._remaining[batch.seq] = self._remaining.get(batch.seq, 0) + len(items)
        self._held += len(items)
        for chunk in self._chunker.add(items, batch.seq):
            self._requests.schedule(chunk, 0.0)  # (only max_held_events makes write wait)
        self._pump(block=False)
        while self._held > self.cfg.max_held_events and not self._requests.abandoned:
            self._pump(block=True)

    def flush(self) -> None:
        chunk = self._chunker.take()
        if chunk is not None:
            self._requests.schedule(chunk, 0.0)
        while self._held and not self._requests.abandoned:
            if self._requests.idle:
                raise RuntimeError(f"{self._held} documents held but none in flight or waiting: a sink bug")
            self._pump(block=True)

    def close(self) -> None:
        """Release the threads, the connections and the dead letter (call `flush` first to deliver)."""
        self._requests.close()
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._deadletter is not None:
            self._deadletter.close()
            self._deadletter = None

    def files(self) -> list[Path]:
        return sqlite_files(self.state_dir / FILENAME)

    def abandon(self) -> None:
        """Let go (any thread): send nothing more, settle and acknowledge nothing more; a `write`
        or `flush` in progress returns at once (requests in flight are let finish by `close`)."""
        self._requests.abandon()

    def give_back(self) -> list[Batch]:
        """After `abandon` and `close`: the documents written that Elasticsearch did not take, as
        one batch of items per batch written (its ``seq``); the dead letter's copies are left out."""
        waiting = [chunk for _, _, chunk in self._requests.queue] + [self._chunker.take() or Chunk()]
        return batches_of(self.name, waiting, self._requests.inflight)

    @property
    def failing(self) -> bool:
        """Documents wait for a retry: Elasticsearch does not take them now (read on any thread)."""
        return self._outage.failing

    def check_writable(self) -> None:
        """After `open`: an `UnavailableError` when Elasticsearch says the credentials may not write
        to the data streams (`shipper.sinks.es_privileges`); a reload's probe of a new output."""
        assert self._conn is not None, "open() first"
        es_privileges.check_writable(self._conn, self.cfg.namespace, self._say)

    # -- requests ---------------------------------------------------------------------------------
    def _pump(self, block: bool) -> None:
        """Send the requests that are due, then settle finished ones (waiting for one if ``block``,
        or for `abandon`)."""
        for chunk, outcome in self._requests.finished(block):
            self._settle(chunk, outcome)

    # -- answers ----------------------------------------------------------------------------------
    def _settle(self, chunk: Chunk, outcome: Outcome) -> None:
        self.counters["requests"] += 1
        self._outage.answered(chunk)
        status, gave_up = outcome.status, False
        if status == 200:
            if not isinstance(outcome.body, Reply):
                raise OutputError(f"the answer of {self._where} to a bulk request is not Elasticsearch's: {outcome.error}",
                                  hint="is a proxy in between? point output.elasticsearch.hosts at Elasticsearch itself")
            gave_up = self._settle_items(chunk, outcome.body)
        elif status is None or status in RETRY_REQUEST_STATUSES:
            reason = self._describe(outcome)
            self._outage.retry(chunk, self._where, reason, f"Elasticsearch at {self._where} is failing ({reason}); "
                                                           f"retrying with backoff, nothing is dropped ({self._held:,} events held)")
            self.counters["request_retries"] += 1
            chunk.attempt += 1
            self._requests.schedule(chunk, self._backoff.delay(chunk.attempt - 1))
        elif status in STOP_REQUEST_STATUSES:
            from shipper.sinks.es_client import unavailable  # noqa: PLC0415 - loaded by open()

            raise unavailable(outcome.error or OutputError(str(status)), self._where, doing="index documents")
        elif status == 413:
            self._too_large(chunk)
        elif status >= 500:
            raise OutputError(f"Elasticsearch at {self._where} failed a bulk request ({status}): {error_reason(outcome.body)}",
                              hint="a server error that retrying does not fix: see the Elasticsearch logs "
                                   "(or those of a proxy in front of it)")
        else:
            raise OutputError(f"Elasticsearch at {self._where} refused a bulk request ({status}): "
                              f"{error_reason(outcome.body)}", hint="this is likely a shipper bug: report it")
        self._outage.settled(self._where, gave_up=gave_up)

    def _settle_items(self, chunk: Chunk, reply: Reply) -> bool:
        """Settle a 200's items: all at once when every one was delivered, else item by item.
        True when items were dead-lettered because their retries ran out."""
        if reply.results is None:
            self._delivered(reply.created, reply.existing)
            self._settled(Counter(chunk.seqs))
            return False
        done: Counter[int] = Counter()
        delivered = [0, 0]  # created, already there
        again = Chunk(attempt=chunk.attempt + 1, item_retries=chunk.item_retries + 1, failed_at=chunk.failed_at)
        dead: list[tuple[int, dict[str, Any]]] = []
        exhausted: list[tuple[int, dict[str, Any]]] = []  # retried as long as they may be
        first: dict[str, Any] = {}  # the result of the first item to retry: the reason said
        for i, result in enumerate(reply.results):
            status = int(result.get("status", 0))
            verdict = item_verdict(status)
            if verdict is Verdict.DELIVERED or verdict is Verdict.DUPLICATE:
                delivered[verdict is Verdict.DUPLICATE] += 1
                done[chunk.seqs[i]] += 1
            elif verdict is Verdict.RETRY and (self._endless(status) or chunk.item_retries < self.cfg.max_item_retries):
                first = first or result
                again.items.append(chunk.items[i])
                again.seqs.append(chunk.seqs[i])
                again.nbytes += len(chunk.items[i])
            elif verdict is Verdict.STOP:
                self._delivered(*delivered)
                self._settled(done)
                raise self._stop_item(status, result)
            else:
                (exhausted if verdict is Verdict.RETRY else dead).append((i, result))
        self._delivered(*delivered)
        if dead or exhausted:
            self._dead_letter(chunk, dead + exhausted, done)
        if exhausted:
            self._gave_up(chunk, exhausted)
        self._settled(done)
        if again.items:
            self._retry_items(chunk, again, first)
        return bool(exhausted)

    def _endless(self, status: int) -> bool:
        """An item failure retried without end: 429, and in the daemon every transient one."""
        return status == 429 or (self.daemon and status in TRANSIENT_ITEM_STATUSES)

    def _retry_items(self, chunk: Chunk, again: Chunk, first: dict[str, Any]) -> None:
        """Send ``again`` (items of ``chunk`` the cluster did not take now, ``first`` the result
        of the first of them) after a backoff."""
        status = int(first.get("status", 0))
        reason = f"{status} {error_reason(first)}"
        bound = ""
        if not self._endless(status):
            left = self.cfg.max_item_retries - chunk.item_retries
            bound = (f" for up to about {duration(self._backoff.total(left, first=chunk.attempt))} "
                     f"({_tries(chunk.attempt + 1 + left)}), then they go to the dead letter")
        self._outage.retry(again, self._where, reason,
                           f"Elasticsearch at {self._where} does not take {len(again):,} of {len(chunk):,} documents "
                           f"for now ({reason}); retrying them with backoff{bound} ({self._held:,} events held)")
        self.counters["retried_items"] += len(again)
        self._requests.schedule(again, self._backoff.delay(chunk.attempt))

    def _gave_up(self, chunk: Chunk, exhausted: list[tuple[int, dict[str, Any]]]) -> None:
        """Say that items went to the dead letter because their retries ran out (not counting
        copies for the dead letter data stream: those stay in the dead letter's table)."""
        n = sum(1 for i, _ in exhausted if chunk.seqs[i] >= 0)
        if not n:
            return
        status = int(exhausted[0][1].get("status", 0))
        since = chunk.failed_at if chunk.failed_at is not None else time.monotonic()
        what = "1 document" if n == 1 else f"{n:,} documents"
        self._say(f"{what} dead-lettered after retrying for {duration(time.monotonic() - since)} "
                  f"({_tries(chunk.attempt + 1)}): {status} {error_reason(exhausted[0][1])}; "
                  "`shipper deadletter retry` sends them again: run it when the cluster is healthy")

    def _delivered(self, created: int, existing: int) -> None:
        if created:
            self.counters["indexed"] += created
        if existing:
            self.counters["duplicates"] += existing

    def _settled(self, done: Counter[int]) -> None:
        assert self._ack is not None
        for seq, n in done.items():
            self._held -= n
            if seq < 0:
                continue  # a dead letter's copy: acknowledges no batch
            left = self._remaining[seq] - n
            if left:
                self._remaining[seq] = left
            else:
                del self._remaining[seq]
                self._ack(seq)

    def _too_large(self, chunk: Chunk) -> None:
        """413: halve the request; a single document too large for the cluster is dead-lettered."""
        if len(chunk) == 1:
            too_big = {"status": 413, "error": {"type": "request_entity_too_large",
                                                 "reason": f"a {chunk.nbytes:,}-byte document exceeds http.max_content_length"}}
            done: Counter[int] = Counter()
            self._dead_letter(chunk, [(0, too_big)], done)
            self._settled(done)
            return
        half = len(chunk) // 2
        for part in (slice(0, half), slice(half, None)):
            items = chunk.items[part]
            self._requests.schedule(Chunk(items, chunk.seqs[part], sum(map(len, items)), chunk.attempt,
                                          chunk.item_retries), 0.0)

    def _stop_item(self, status: int, result: dict[str, Any]) -> Exception:
        reason = error_reason(result)
        if status == 404:
            return OutputError(f"Elasticsearch at {self._where} has no data stream to write to: {reason}",
                               hint="run `shipper setup`, and allow auto-creation of logs-shipper.* data streams")
        return UnavailableError(f"Elasticsearch at {self._where} does not let shipper write documents ({status}): {reason}",
                                hint="grant create_doc and auto_configure on logs-shipper.*-* "
                                     "(deploy/elasticsearch-role.json); `shipper check` shows what is missing")

    # -- the dead letter --------------------------------------------------------------------------
    def _dead_letter(self, chunk: Chunk, dead: list[tuple[int, dict[str, Any]]], done: Counter[int]) -> None:
        at = self.env.clock()
        letters: list[Letter] = []
        for i, result in dead:
            seq = chunk.seqs[i]
            done[seq] += 1
            if seq < 0:  # the dead letter's own copy was refused: the local table has the document
                self.counters["deadletter_index_failed"] += 1
                continue
            letters.append(letter_of(chunk.items[i], result, at))
        if not letters:
            return
        self._store().add(letters)
        self.counters["dead_lettered"] += len(letters)
        if self.cfg.deadletter_index:
            items = self._encoder.encode(map(copy_of, letters), dataset=DEADLETTER_DATASET)
            self._held += len(items)
            self._requests.schedule(Chunk(items, [-1] * len(items), sum(map(len, items))), 0.0)

    def _store(self) -> DeadLetterStore:
        if self._deadletter is None:
            self._deadletter = DeadLetterStore(self.state_dir / FILENAME)
        return self._deadletter

    # -- health and messages ------------------------------------------------------------------------
    @property
    def _where(self) -> str:
        return self._conn.where if self._conn else ", ".join(self.cfg.hosts)

    def _describe(self, outcome: Outcome) -> str:
        if outcome.status is None:
            return connection_reason(outcome.error) if outcome.error else "no answer"
        return f"{outcome.status} {error_reason(outcome.body)}"

    def _say(self, text: str) -> None:
        self.env.stderr.write(f"shipper: {text}\n")
        self.env.stderr.flush()

    def _warn_if_not_set_up(self) -> None:
        from elastic_transport import TransportError
        from elasticsearch import ApiError

        assert self._conn is not None
        try:
            exists = bool(self._conn.client.indices.exists_index_template(name=INDEX_TEMPLATE))
        except (ApiError, TransportError):
            return  # a writer key without template privileges (`shipper check` tells), or a hiccup
        if not exists:
            self._say(f"warning: the index template {INDEX_TEMPLATE} is not installed in {self._where}; "
                      "documents get Elasticsearch's default mappings. Run `shipper setup` first")


def _tries(sends: int) -> str:
    """How many times documents were sent, for a message: the first send is try 1."""
    return "1 try" if sends == 1 else f"{sends:,} tries"
