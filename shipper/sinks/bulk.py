"""Bulk bodies, built once: each document becomes one NDJSON item (action line + source line), and
items are cut into requests by count and by bytes. Pure: no I/O, no clock.

A document goes to the data stream ``logs-<dataset>-<namespace>`` (Elastic's naming scheme) with
``op_type: create`` and ``_id = event.id``, so a replay of the same data is absorbed (409). The
``data_stream`` fields are spliced into the serialised source instead of being set on the shared
dict: another sink may be writing the same batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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

    def encode(self, docs: Iterable[Doc], dataset: str | None = None) -> list[bytes]:
        """One item per document; ``dataset`` forces the route (the dead letter's own stream)."""
        out: list[bytes] = []
        append = out.append
        dumps = orjson.dumps
        routes = self._routes
        for doc in docs:
            event = doc.get("event")
            key = dataset if dataset is not None else (event.get("dataset") if event else None)
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
            doc_id = event.get("id") if event else None
            if doc_id is None:
                action = route.action_no_id
            else:
                action = route.action + dumps(doc_id if type(doc_id) is str else str(doc_id)) + b"}}\n"
            if len(source) > 2:
                append(b"".join((action, head, memoryview(source)[1:], b"\n")))
            else:  # an empty document: the data_stream object is all there is
                append(action + route.splice[:-1] + b"}\n")
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
    attempt: int = 0  # how many times these items were sent already

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
        """Add one batch's items; returns the chunks that became full."""
        chunk = self._open
        size = sum(map(len, items))
        if len(chunk.items) + len(items) < self.max_docs and chunk.nbytes + size < self.max_bytes:
            chunk.items += items  # the common case: the whole batch fits
            chunk.seqs += [seq] * len(items)
            chunk.nbytes += size
            return []
        full: list[Chunk] = []
        max_docs, max_bytes = self.max_docs, self.max_bytes
        for item in items:
            size = len(item)
            if chunk.items and (chunk.nbytes + size > max_bytes or len(chunk.items) >= max_docs):
                full.append(chunk)
                chunk = Chunk()
            chunk.items.append(item)
            chunk.seqs.append(seq)
            chunk.nbytes += size
        if len(chunk.items) >= max_docs or chunk.nbytes >= max_bytes:
            full.append(chunk)
            chunk = Chunk()
        self._open = chunk
        return full

    def take(self) -> Chunk | None:
        """The partly filled chunk, if any (at flush)."""
        chunk, self._open = self._open, Chunk()
        return chunk if chunk.items else None

    @property
    def pending(self) -> int:
        return len(self._open.items)
