"""Batches an earlier run or session left in the disk buffer (``seq`` `ORPHAN`), made this session's.

Their lines are not read again from the inputs (their checkpoints moved when they were written to
the buffer: `shipper.daemon.ledger`), so each is delivered to the output configured now: encoded
again for a new Elasticsearch namespace (`shipper.daemon.retarget`), or, encoded for another
output (the configuration changed from Elasticsearch to NDJSON, say), as its documents, which the
sink encodes. It is registered with the ledger without a checkpoint (it releases none).
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from shipper.daemon.courier import ORPHAN_INPUT
from shipper.daemon.ledger import Ledger
from shipper.daemon.outbox import Adopt
from shipper.daemon.retarget import retargeter
from shipper.event import Batch, Doc
from shipper.sinks.base import Encode
from shipper.sinks.bulk import split_item

BULK = "elasticsearch"  # the sink whose items are bulk items (an action line, then the document)


def adopter(sink_name: str, encode: Encode, ledger: Ledger) -> Adopt:
    """What makes a batch of an earlier run one of this session's, for the sink ``sink_name``."""
    retarget = retargeter(sink_name, encode)

    def adopt(batch: Batch) -> Batch:
        if batch.encoded is not None and sink_name not in batch.encoded:
            batch = Batch(documents(batch), source_id=batch.source_id)
        elif retarget is not None:
            batch = retarget(batch)
        batch.seq = ledger.register(batch.source_id, None, ORPHAN_INPUT, batch.count, time.monotonic())
        return batch

    return adopt


def documents(batch: Batch) -> list[Doc]:
    """The documents of a batch encoded for one output (bulk items; NDJSON lines)."""
    assert batch.encoded is not None
    (sink, items), = batch.encoded.items()
    return [_document(sink, item) for item in items]


def _document(sink: str, item: bytes) -> Doc:
    if sink != BULK:
        doc: dict[str, Any] = orjson.loads(item)
        return doc
    doc = orjson.loads(split_item(item)[1])
    doc.pop("data_stream", None)  # (the encoder put it there: another output has none)
    return doc
