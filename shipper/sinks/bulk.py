"""Bulk bodies, built once: each document becomes one NDJSON item (action line + source line), and
items are cut into requests by count and by bytes; bulk replies are read. Pure: no I/O, no clock.

A document goes to the data stream ``logs-<dataset>-<namespace>`` (Elastic's naming scheme) with
``op_type: create`` and ``_id = event.id``, so a replay of the same data is absorbed (409). The
``data_stream`` fields are spliced into the serialised source instead of being set on the shared
dict: another sink may be writing the same batch.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any, Iterable

import orjson

from shipper.event import Doc

# event.dataset (docs/fields.md) -> the data stream's dataset
DATASETS = {
    "syslog": "shipper.syslog",
    "journald": "shipper.journald",
    "elasticsearch.server": "shipper.elasticsearch",
    "shipper": "shipper.internal",
}
OTHER_DATASET = "shipper.other"
DEADLETTER_DATASET = "shipper.deadletter"
INDEX_PATTERN = "logs-shipper.*-*"


def data_stream(dataset: str, namespace: str) -> str:
    return f"logs-{dataset}-{namespace}"


def _default(value: Any) -> Any:
    """What orjson cannot serialise is kept as text rather than crashing the shipper."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "backslashreplace")
    return str(value)


@dataclass(frozen=True, slots=True)
class _Route:
    index: str
    action: bytes  # b'{"create":{"_index":"logs-...","_id":'
    action_no_id: bytes  # the same without an id: Elasticsearch assigns one
    stream: dict[str, str]  # the data_stream object
    splice: bytes  # b'{"data_stream":{...},'


class Encoder:
    """Turns documents into bulk items for one namespace (routes cached per dataset)."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self._routes: dict[Any, _Route] = {}

    def route(self, event_dataset: Any) -> _Route:
        route = self._routes.get(event_dataset)
        if route is None:
            dataset = DATASETS.get(event_dataset, OTHER_DATASET) if event_dataset != DEADLETTER_DATASET else event_dataset
            index = data_stream(dataset, self.namespace)
            stream = {"type": "logs", "dataset": dataset, "namespace": self.namespace}
            head = b'{"create":{"_index":' + orjson.dumps(index)
            route = _Route(index, head + b',"_id":', head + b"}}\n",
                           stream, b'{"data_stream":' + orjson.dumps(stream) + b",")
            self._routes[event_dataset] = route
        return route

    def __call__(self, docs: list[Doc]) -> list[bytes]:
        """The sink's `Encode` (the express lane and the tail recognise it by its type)."""
        return self.encode(docs)

    def encode(self, docs: Iterable[Doc], dataset: str | None = None) -> list[bytes]:
        """One item per document; ``dataset`` forces the route (the dead letter's own stream)."""
        out: list[bytes] = []
        append = out.append
        dumps = orjson.dumps
        join = b"".join
        routes = self._routes
        for doc in docs:
            event = doc.get("event")
            if event:
                key = event.get("dataset") if dataset is None else dataset
                doc_id = event.get("id")
            else:
                key, doc_id = dataset, None
            route = routes.get(key) or self.route(key)
            if "data_stream" in doc:
                doc = {**doc, "data_stream": route.stream}
                head = b"{"
            else:
                head = route.splice
            try:
                source = dumps(doc)
            except TypeError:
                source = dumps(doc, default=_default)
            if len(source) > 2:
                tail = source[1:]  # (a copy costs less than a memoryview of a document's size)
            else:  # an empty document: the data_stream object is all there is
                head, tail = route.splice[:-1], b"}"
            if doc_id is None:
                append(join((route.action_no_id, head, tail, b"\n")))
            else:
                doc_id = dumps(doc_id if type(doc_id) is str else str(doc_id))
                append(join((route.action, doc_id, b"}}\n", head, tail, b"\n")))
        return out


def split_item(item: bytes) -> tuple[dict[str, Any], bytes]:
    """An item's action metadata (``{"_index":…, "_id":…}``) and its source line (no newline)."""
    action, _, source = item.partition(b"\n")
    meta = orjson.loads(action)
    return next(iter(meta.values())), source.rstrip(b"\n")


@dataclass(slots=True)
class Chunk:
    """One bulk request: items, and for each the batch it acknowledges (-1: none)."""

    items: list[bytes] = field(default_factory=list)
    seqs: list[int] = field(default_factory=list)
    nbytes: int = 0
    attempt: int = 0  # how many times these items were sent already (the backoff's exponent)
    item_retries: int = 0  # how many of those sends came of their items failing (`max_item_retries`)
    failed_at: float | None = None  # when a try of these items first failed (monotonic): a retry

    def body(self) -> bytes:
        return b"".join(self.items)

    def __len__(self) -> int:
        return len(self.items)


class Chunker:
    """Collects items into chunks of at most ``max_docs`` items and (but for a single oversized
    item) ``max_bytes`` bytes of body."""

    def __init__(self, max_docs: int, max_bytes: int) -> None:
        self.max_docs = max_docs
        self.max_bytes = max_bytes
        self._open = Chunk()

    def add(self, items: list[bytes], seq: int) -> list[Chunk]:
        """Add one batch's items; returns the chunks that became full. Items are taken in slices
        (no per-item Python work unless the byte limit cuts the batch)."""
        full: list[Chunk] = []
        start, n = 0, len(items)
        while start < n:
            chunk = self._open
            end = min(n, start + self.max_docs - len(chunk.items))
            part = items if start == 0 and end == n else items[start:end]  # (a whole batch is not copied)
            size = sum(map(len, part))
            if chunk.nbytes + size > self.max_bytes:  # cut where the next item no longer fits
                sums = list(accumulate(map(len, part)))
                taken = bisect_right(sums, self.max_bytes - chunk.nbytes) or (0 if chunk.items else 1)
                end, size, part = start + taken, sums[taken - 1] if taken else 0, part[:taken]
            chunk.items += part
            chunk.seqs += [seq] * (end - start)
            chunk.nbytes += size
            if end < n or len(chunk.items) >= self.max_docs or chunk.nbytes >= self.max_bytes:
                full.append(chunk)
                self._open = Chunk()
            start = end
        return full

    def take(self) -> Chunk | None:
        """The partly filled chunk, if any (at flush)."""
        chunk, self._open = self._open, Chunk()
        return chunk if chunk.items else None

    @property
    def pending(self) -> int:
        return len(self._open.items)


# What the sink asks Elasticsearch to keep of a bulk reply: the summary flag, each item's status,
# and of an error only what a dead letter shows. A created item is then `{"create":{"status":201}}`.
FILTER_PATH = ("errors,items.*.status,items.*.error.type,items.*.error.reason,"
               "items.*.error.caused_by.type,items.*.error.caused_by.reason")
_NO_ERRORS = b'"errors":false'
_ITEMS = b'"items":'
_HEAD = 128  # the top-level fields before the items: errors, took, ingest_took
_CREATED = b'{"status":201}'
_EXISTS = b'{"status":409,"error":{"type":"version_conflict_engine_exception"'


@dataclass(slots=True)
class Reply:
    """A 200 bulk reply: how many items were created and already there, and, unless every item
    was one of those, each item's result (``{"status": …, "error": {…}}``) in request order."""

    created: int
    existing: int
    results: list[dict[str, Any]] | None = None


def read_reply(raw: bytes, n: int) -> Reply:
    """Read the reply to a bulk request of ``n`` items; ValueError if it is not a bulk reply.

    The common answers are settled on the bytes: ``"errors":false`` before the items (nothing
    failed), or every item matched as created or as a version conflict (a replay of data already
    indexed). The patterns hold an unescaped ``{"``, which JSON strings cannot contain, so they match
    structure only. Anything else (another layout, a real failure) is decoded in full.
    """
    flag = raw.find(_NO_ERRORS, 0, _HEAD)
    if 0 <= flag < raw.find(_ITEMS, 0, _HEAD):
        return Reply(n, 0)
    existing = raw.count(_EXISTS)
    if existing == n:
        return Reply(0, n)
    if existing:
        created = raw.count(_CREATED)
        if created + existing == n:
            return Reply(created, existing)
    body = orjson.loads(raw)
    if not isinstance(body, dict) or "errors" not in body:
        raise ValueError(f"not a bulk reply: {raw[:200]!r}")
    if not body["errors"]:
        return Reply(n, 0)
    items = body.get("items")
    if not isinstance(items, list) or len(items) != n:
        raise ValueError(f"{len(items) if isinstance(items, list) else 'no'} bulk items for {n} documents")
    try:
        return Reply(0, 0, [item.get("create") or next(iter(item.values())) for item in items])
    except (AttributeError, StopIteration):
        raise ValueError(f"a bulk item is not an object with one result: {raw[:200]!r}") from None
