"""Batches an earlier session left in the disk buffer, sent where the configuration says now.

A batch is encoded for its output when it is read (`Session._batch`): each Elasticsearch bulk item
names its data stream, ``logs-<dataset>-<namespace>``. A batch in the disk buffer counts as
delivered (its checkpoints moved: `shipper.daemon.ledger`), and after a reload or a restart it is
delivered from there (`shipper.daemon.adopt`). Had ``output.elasticsearch.namespace`` changed
meanwhile, it would go to the old data stream; it is encoded again for the new namespace instead.
Nothing else in the configuration is in the items (the ingest pipeline is the data stream's
default, hosts and credentials are the connection's), and the other outputs' items name no
destination.
"""

from __future__ import annotations

from typing import Callable

import orjson

from shipper.event import Batch, Doc
from shipper.sinks.base import Encode
from shipper.sinks.bulk import Encoder, split_item


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
