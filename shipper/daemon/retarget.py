"""Batches an earlier session left in the disk buffer, sent where the configuration says now.

A batch is encoded for its output when it is read (`Session._batch`): each Elasticsearch bulk item
names its data stream, ``logs-<dataset>-<namespace>``. The checkpoints of its lines move only once
the output acknowledges it, so after a reload or a restart those lines are read again and encoded
anew. Had ``output.elasticsearch.namespace`` changed meanwhile, the batch delivered as it waited
would put each of its events in two data streams, where their ``event.id`` cannot make them one.

Such a batch is encoded again for the new namespace, as its lines are: the copy read again then has
its ids and its data stream, and Elasticsearch keeps one (409). It is not dropped instead, as its
lines are not always read again: a file rotated out of its input's paths or deleted, a journal file
vacuumed, an input removed from the configuration. Nothing else in the configuration is in the
items (the ingest pipeline is the data stream's default, hosts and credentials are the
connection's), and the other outputs' items name no destination.
"""

from __future__ import annotations

from typing import Callable

import orjson

from shipper.daemon.outbox import ORPHAN, Outbox
from shipper.event import Batch, Doc
from shipper.sinks.base import Encode
from shipper.sinks.bulk import Encoder, split_item
from shipper.state.spool import Spool


class RetargetingOutbox(Outbox):
    """An `Outbox` whose batches of earlier runs (``seq`` `ORPHAN`) are encoded for the output now
    configured (`retarget`)."""

    def __init__(self, spool: Spool, max_events: int, retarget: Callable[[Batch], Batch]) -> None:
        super().__init__(spool, max_events)
        self._retarget = retarget

    def get(self, timeout: float) -> Batch | None:
        batch = super().get(timeout)
        return self._retarget(batch) if batch is not None and batch.seq == ORPHAN else batch


def retargeter(sink_name: str, encode: Encode) -> Callable[[Batch], Batch] | None:
    """What encodes a batch again for the sink ``sink_name`` (its encoder ``encode``) when its
    items name another destination; None for a sink whose items name none."""
    if not isinstance(encode, Encoder):
        return None

    def retarget(batch: Batch) -> Batch:
        items = batch.encoded.get(sink_name) if batch.encoded else None
        if not items or _action(encode([_source(items[0])])[0]) == _action(items[0]):
            return batch  # (one encoder made all of a batch's items: the first tells for all)
        again = encode([_source(item) for item in items])
        return Batch([], source_id=batch.source_id, seq=batch.seq, encoded={sink_name: again})

    return retarget


def _source(item: bytes) -> Doc:
    """The document of a bulk item (its ``data_stream`` object is replaced when encoded again)."""
    doc: Doc = orjson.loads(split_item(item)[1])
    return doc


def _action(item: bytes) -> bytes:
    """A bulk item's action line: where it goes, and its ``_id``."""
    return item.partition(b"\n")[0]
