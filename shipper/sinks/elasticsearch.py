"""The Elasticsearch sink: bulk requests in flight, retries item by item, a dead letter, acks.

Threads only carry requests: encoding, retry decisions, dead-lettering and every ``ack`` happen
on the caller's thread inside `write`/`flush` (the pipeline is single-threaded). A batch is
acknowledged once Elasticsearch has each of its documents (2xx or 409) or the document is in
the dead letter. Events accepted and not yet settled are bounded by ``max_held_events``: when the
bound is reached, `write` waits (backpressure); nothing is ever dropped. Below it, full requests
queue for one of the ``max_in_flight`` connections and `write` returns at once.

Per document, the caller's thread only moves item lists (`Chunker`); a request thread joins them
into one body and reads the reply on its bytes (`read_reply`): a reply where every item was
created or already there is settled without decoding it item by item.

Counters: ``indexed``, ``duplicates`` (409: already there, delivered), ``retried_items`` (item-level
429/5xx re-sent), ``request_retries`` (whole requests: 429/502/503/504, connection errors),
``dead_lettered``, ``deadletter_index_failed`` (the dead letter's own copy refused; the local table
has it), ``requests``.
"""

from __future__ import annotations

import heapq
import itertools
import os
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from shipper.config.elasticsearch import ElasticsearchOutput
from shipper.env import Env
from shipper.errors import OutputError, UnavailableError
from shipper.event import Batch
from shipper.sinks.base import Ack, Encode, items_of, sqlite_files
from shipper.sinks.bulk import DEADLETTER_DATASET, FILTER_PATH, Chunk, Chunker, Encoder, Reply, read_reply, split_item
from shipper.sinks.deadletter import FILENAME, DeadLetterStore, Letter
from shipper.sinks.es_errors import connection_reason, error_reason
from shipper.sinks.retry import RETRY_REQUEST_STATUSES, STOP_REQUEST_STATUSES, Backoff, Verdict, item_verdict

if TYPE_CHECKING:
    from shipper.sinks.es_client import Connection

INDEX_TEMPLATE = "logs-shipper"


@dataclass(slots=True)
class _Outcome:
    status: int | None  # None: no HTTP answer (connection refused, timeout, TLS)
    body: Any = None  # a 200's `Reply`; else the error JSON Elasticsearch sent (or its text)
    error: BaseException | None = None


class ElasticsearchSink:
    name = "elasticsearch"

    def __init__(self, cfg: ElasticsearchOutput, state_dir: Path, env: Env, *, check_setup: bool = True,
                 make_state_dir: bool = True) -> None:
        """``check_setup``: warn when `shipper setup` has not installed the index template (a
        replay's workers, which send with a sink each, leave that to the main process's).
        ``make_state_dir``: `open` makes ``state_dir`` (where the dead letter goes) if it is not
        there; False for `shipper run`, whose lock made it: missing, it was deleted while the
        daemon ran, and `open` fails rather than make it again."""
        self.cfg = cfg
        self.check_setup = check_setup
        self.make_state_dir = make_state_dir
        self.state_dir = state_dir
        self.env = env
        self.counters: Counter[str] = Counter()
        self._encoder = Encoder(cfg.namespace)
        self._chunker = Chunker(cfg.bulk_max_docs, int(cfg.bulk_max_bytes))
        self._backoff = Backoff(float(cfg.retry_initial), float(cfg.retry_max))
        self._remaining: dict[int, int] = {}  # batch seq -> its documents not yet settled
        self._inflight: dict[Future[_Outcome], Chunk] = {}
        self._queue: list[tuple[float, int, Chunk]] = []  # requests to send: heap of (due, tie-breaker, chunk)
        self._ticket = itertools.count()
        self._held = 0  # documents accepted by write() and not yet settled
        self._outage_since: float | None = None
        self._ack: Ack | None = None
        self._conn: Connection | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._deadletter: DeadLetterStore | None = None

    # -- the Sink protocol ------------------------------------------------------------------------
    def open(self, ack: Ack) -> None:
        self._check_state_dir()
        self._ack = ack
        # The official client is imported when the sink opens, not with this module: a replay
        # forks its worker processes before, and they start without its modules (13 MB each).
        from shipper.sinks.es_client import connect  # noqa: PLC0415

        self._conn = connect(self.cfg, self.env, bulk=True)
        self._pool = ThreadPoolExecutor(max_workers=self.cfg.max_in_flight, thread_name_prefix="shipper-es")
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
            self._submit(chunk)
        self._pump(block=False)
        while self._held > self.cfg.max_held_events:
            self._pump(block=True)

    def flush(self) -> None:
        chunk = self._chunker.take()
        if chunk is not None:
            self._submit(chunk)
        while self._held:
            if not self._inflight and not self._queue:
                raise RuntimeError(f"{self._held} documents held but none in flight or waiting: a sink bug")
            self._pump(block=True)

    def close(self) -> None:
        """Release the threads, the connections and the dead letter (call `flush` first to deliver)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._deadletter is not None:
            self._deadletter.close()
            self._deadletter = None

    def files(self) -> list[Path]:
        return sqlite_files(self.state_dir / FILENAME)

    # -- sending ----------------------------------------------------------------------------------
    def _submit(self, chunk: Chunk) -> None:
        """Queue a new request: it leaves as soon as a connection is free (the caller does not wait
        for one; only ``max_held_events`` makes ``write`` wait)."""
        self._schedule(chunk, 0.0)

    def _start(self, chunk: Chunk) -> None:
        assert self._pool is not None
        self._inflight[self._pool.submit(self._send, chunk)] = chunk

    def _send(self, chunk: Chunk) -> _Outcome:
        """Runs on a worker thread: one bulk request, its answer read (or its failure) as data."""
        from elastic_transport import TransportError
        from elasticsearch import ApiError

        assert self._conn is not None and self._conn.bulk is not None
        try:
            resp = self._conn.bulk.bulk(body=chunk.body(), filter_path=FILTER_PATH)  # type: ignore[arg-type]
        except ApiError as exc:
            return _Outcome(exc.meta.status, _decoded(exc.body), exc)
        except TransportError as exc:
            return _Outcome(None, None, exc)
        try:
            return _Outcome(resp.meta.status, read_reply(resp.body, len(chunk)))
        except ValueError as exc:
            return _Outcome(resp.meta.status, None, exc)

    def _pump(self, block: bool) -> None:
        """Send the requests that are due, then settle finished ones (waiting for one if ``block``)."""
        self._send_due()
        if not self._inflight:
            if block and self._queue:
                time.sleep(max(0.0, self._queue[0][0] - time.monotonic()))
                self._send_due()
            return
        if block:
            timeout = None
            if self._queue and len(self._inflight) < self.cfg.max_in_flight:
                timeout = max(0.0, self._queue[0][0] - time.monotonic())
            done = wait(list(self._inflight), timeout=timeout, return_when=FIRST_COMPLETED)[0]
        else:
            done = {f for f in self._inflight if f.done()}
        for fut in done:
            self._settle(self._inflight.pop(fut), fut.result())

    def _send_due(self) -> None:
        now = time.monotonic()
        while self._queue and self._queue[0][0] <= now and len(self._inflight) < self.cfg.max_in_flight:
            self._start(heapq.heappop(self._queue)[2])

    def _schedule(self, chunk: Chunk, delay: float) -> None:
        heapq.heappush(self._queue, (time.monotonic() + delay, next(self._ticket), chunk))

    # -- answers ----------------------------------------------------------------------------------
    def _settle(self, chunk: Chunk, outcome: _Outcome) -> None:
        self.counters["requests"] += 1
        status = outcome.status
        if status == 200:
            if not isinstance(outcome.body, Reply):
                raise OutputError(f"the answer of {self._where} to a bulk request is not Elasticsearch's: {outcome.error}",
                                  hint="is a proxy in between? point output.elasticsearch.hosts at Elasticsearch itself")
            self._recovered()
            self._settle_items(chunk, outcome.body)
        elif status is None or status in RETRY_REQUEST_STATUSES:
            self._failing(self._describe(outcome))
            self.counters["request_retries"] += 1
            chunk.attempt += 1
            self._schedule(chunk, self._backoff.delay(chunk.attempt - 1))
        elif status in STOP_REQUEST_STATUSES:
            from shipper.sinks.es_client import unavailable  # noqa: PLC0415 - loaded by open()

            raise unavailable(outcome.error or OutputError(str(status)), self._where, doing="index documents")
        elif status == 413:
            self._too_large(chunk)
        else:
            raise OutputError(f"Elasticsearch at {self._where} refused a bulk request ({status}): "
                              f"{error_reason(outcome.body)}", hint="this is likely a shipper bug: report it")

    def _settle_items(self, chunk: Chunk, reply: Reply) -> None:
        """Settle a 200's items: all at once when every one was delivered, else item by item."""
        if reply.results is None:
            self._delivered(reply.created, reply.existing)
            self._settled(Counter(chunk.seqs))
            return
        done: Counter[int] = Counter()
        delivered = [0, 0]  # created, already there
        again = Chunk(attempt=chunk.attempt + 1)
        dead: list[tuple[int, dict[str, Any]]] = []
        for i, result in enumerate(reply.results):
            status = int(result.get("status", 0))
            verdict = item_verdict(status)
            if verdict is Verdict.DELIVERED or verdict is Verdict.DUPLICATE:
                delivered[verdict is Verdict.DUPLICATE] += 1
                done[chunk.seqs[i]] += 1
            elif verdict is Verdict.RETRY and (status == 429 or chunk.attempt < self.cfg.max_item_retries):
                again.items.append(chunk.items[i])
                again.seqs.append(chunk.seqs[i])
                again.nbytes += len(chunk.items[i])
            elif verdict is Verdict.STOP:
                self._delivered(*delivered)
                self._settled(done)
                raise self._stop_item(status, result)
            else:
                dead.append((i, result))
        self._delivered(*delivered)
        if dead:
            self._dead_letter(chunk, dead, done)
        self._settled(done)
        if again.items:
            self.counters["retried_items"] += len(again)
            self._schedule(again, self._backoff.delay(chunk.attempt))

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
            self._schedule(Chunk(items, chunk.seqs[part], sum(map(len, items)), chunk.attempt), 0.0)

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
        at = _iso(self.env.clock())
        letters: list[Letter] = []
        copies: list[dict[str, Any]] = []
        for i, result in dead:
            seq = chunk.seqs[i]
            done[seq] += 1
            if seq < 0:  # the dead letter's own copy was refused: the local table has the document
                self.counters["deadletter_index_failed"] += 1
                continue
            meta, source = split_item(chunk.items[i])
            error = result.get("error") or {}
            letter = Letter(at, str(meta.get("_index", "")), meta.get("_id"), int(result.get("status", 0)),
                            str(error.get("type", "error")) if isinstance(error, dict) else "error",
                            error_reason(result), source)
            letters.append(letter)
            if self.cfg.deadletter_index:
                copies.append(_copy(letter))
        if not letters:
            return
        self._store().add(letters)
        self.counters["dead_lettered"] += len(letters)
        if copies:
            items = self._encoder.encode(copies, dataset=DEADLETTER_DATASET)
            self._held += len(items)
            self._schedule(Chunk(items, [-1] * len(items), sum(map(len, items))), 0.0)

    def _store(self) -> DeadLetterStore:
        if self._deadletter is None:
            self._deadletter = DeadLetterStore(self.state_dir / FILENAME)
        return self._deadletter

    # -- health and messages ------------------------------------------------------------------------
    @property
    def _where(self) -> str:
        return self._conn.where if self._conn else ", ".join(self.cfg.hosts)

    def _describe(self, outcome: _Outcome) -> str:
        if outcome.status is None:
            return connection_reason(outcome.error) if outcome.error else "no answer"
        return f"{outcome.status} {error_reason(outcome.body)}"

    def _failing(self, reason: str) -> None:
        now = time.monotonic()
        if self._outage_since is None:
            self._outage_since = now
            self._say(f"Elasticsearch at {self._where} is failing ({reason}); retrying with backoff, "
                      f"nothing is dropped ({self._held:,} events held)")
        elif self.cfg.give_up_after is not None and now - self._outage_since > self.cfg.give_up_after:
            raise UnavailableError(
                f"Elasticsearch at {self._where} has been failing for {now - self._outage_since:.0f} s ({reason})",
                hint="nothing was lost: events not acknowledged are read again on the next run")

    def _recovered(self) -> None:
        if self._outage_since is not None:
            self._say(f"Elasticsearch at {self._where} answers again after {time.monotonic() - self._outage_since:.0f} s")
            self._outage_since = None

    def _say(self, text: str) -> None:
        self.env.stderr.write(f"shipper: {text}\n")
        self.env.stderr.flush()

    def _check_state_dir(self) -> None:
        if not self.make_state_dir:
            if not self.state_dir.is_dir():
                raise OutputError(f"the state directory {self.state_dir} is gone; the Elasticsearch output "
                                  "keeps its dead letter there",
                                  hint="was it deleted while shipper was running? start shipper again: it makes the directory")
        else:
            try:
                self.state_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise OutputError(f"cannot create the state directory {self.state_dir}: {exc.strerror}",
                                  hint="set state_dir in the config to a directory shipper may write") from None
        if not os.access(self.state_dir, os.W_OK):
            raise OutputError(f"the state directory {self.state_dir} is not writable; the Elasticsearch output "
                              "keeps its dead letter there", hint="set state_dir in the config, or run as its owner")

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


def _copy(letter: Letter) -> dict[str, Any]:
    """The dead letter data stream's document: the original as a string, so it can never conflict."""
    event: dict[str, Any] = {"kind": "pipeline_error", "original": letter.source.decode("utf-8", "replace")}
    if letter.doc_id:
        event["id"] = letter.doc_id
    return {
        "@timestamp": letter.at,
        "message": letter.reason,
        "event": event,
        "error": {"type": letter.error_type, "message": letter.reason},
        "shipper": {"deadletter": {"target": letter.target, "status": letter.status}},
    }


def _decoded(body: Any) -> Any:
    """An error answer's JSON (or its text, when it is not JSON)."""
    if not isinstance(body, (bytes, bytearray)):
        return body
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.decode("utf-8", "replace")


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch % 1 * 1e6):06d}Z"
