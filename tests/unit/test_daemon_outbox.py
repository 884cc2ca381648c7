"""The outbox: batches encoded for the sink wait in memory or on disk as bytes, and come back exactly
as they went in; batches of documents, and records an older shipper left on disk, still work."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from typing import Callable

import orjson

from shipper.daemon.adopt import adopter
from shipper.daemon.courier import Courier
from shipper.daemon.ledger import Ledger
from shipper.daemon.outbox import ORPHAN, Outbox, decode_record, encode_record
from shipper.event import Batch
from shipper.ids import IdAssigner
from shipper.parse.base import ParseContext
from shipper.parse.dispatch import make_parser
from shipper.sinks.bulk import Encoder
from shipper.sinks.local import LocalSink, LocalStore
from shipper.sources.base import Origin, RawChunk
from shipper.state.spool import Spool

LINES = [
    "Aug 30 14:55:06 gorp sendmail[24097]: NOQUEUE: SYSERR(root): opendaemonsocket: daemon MTA: cannot bind: Address already in use",
    "Aug 30 14:55:07 gorp systemd[1]: sendmail.service: Main process exited, code=exited, status=71/OSERR",
    "Aug 30 14:55:07 gorp app[7]: ünïcode and a \"quote\" and a tab\tinside",
]


def docs() -> list[dict]:
    origin = Origin("/var/log/messages", "syslog", path="/var/log/messages")
    parser = make_parser(origin, ParseContext(timezone="UTC", year=2017))
    offsets = [sum(len(line.encode()) + 1 for line in LINES[:i]) for i in range(len(LINES))]
    out = parser.parse(RawChunk(origin, "text", list(LINES), offsets=offsets)) + parser.flush()
    IdAssigner().assign(out)
    assert len(out) == len(LINES)
    return out


def encoded_batch(seq: int) -> Batch:
    items = Encoder("default").encode(docs())
    return Batch([], source_id="file-a", seq=seq, encoded={"elasticsearch": items})


def test_encoded_items_round_trip_through_a_record_unchanged() -> None:
    batch = encoded_batch(7)
    back = decode_record(encode_record(batch, "run1"), "run1")
    assert back.encoded == batch.encoded and back.seq == 7 and back.source_id == "file-a"
    assert back.count == len(LINES) and back.docs == []
    # a record of another run (a previous process) is an orphan: it releases no checkpoint
    assert decode_record(encode_record(batch, "run1"), "run2").seq == ORPHAN


def test_documents_still_travel_as_json_when_items_are_not_bytes() -> None:
    rows = Batch(docs(), source_id="file-a", seq=3, encoded={"local": [("row", 1)] * len(LINES)})
    back = decode_record(encode_record(rows, "r"), "r")
    assert back.docs == orjson.loads(orjson.dumps(rows.docs)) and back.encoded is None and back.seq == 3


def test_a_record_written_by_an_earlier_shipper_is_read() -> None:
    old = orjson.dumps({"run": "x", "seq": 4, "source": "file-a", "docs": docs()})  # before items were spilled
    back = decode_record(old, "y")
    assert back.seq == ORPHAN and [d["message"] for d in back.docs] == [d["message"] for d in docs()]


def test_outbox_spills_encoded_batches_and_hands_them_back_in_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=1 << 20, segment_bytes=64 * 1024)
    outbox = Outbox(spool, max_events=len(LINES))  # room for one batch in memory
    batches = [encoded_batch(seq) for seq in range(40)]
    outbox.put(batches[0], spill=False)  # the output takes batches: memory
    assert outbox.memory_full and spool.empty
    for batch in batches[1:20]:
        outbox.put(batch, spill=True)  # it does not: disk, memory is not used
    for batch in batches[20:]:
        outbox.put(batch, spill=False)  # it does again: disk still, behind what waits there
    assert outbox.events == len(LINES) and not spool.empty
    got = []
    while (batch := outbox.get(0.01)) is not None:
        got.append(batch)
        outbox.acked(batch.seq)  # (the output's acknowledgement: it leaves the disk buffer)
    assert [b.seq for b in got] == list(range(40))
    assert all(b.encoded == batches[0].encoded for b in got)
    assert outbox.empty and outbox.events == 0 and spool.size == 0


def test_a_previous_runs_batches_for_another_output_are_delivered_as_documents(tmp_path: Path) -> None:
    """Encoded for Elasticsearch by the run before; the output is now the local store: the batch is
    delivered as its documents (its lines are not read again: its checkpoints moved when it was
    written to the disk buffer), as is a batch of documents."""
    spool = Spool(tmp_path / "spool", max_bytes=1 << 20)
    spool.put(encode_record(encoded_batch(0), "previous"))
    spool.put(encode_record(Batch(docs(), source_id="file-a", seq=1), "previous"))  # documents: any output takes them
    spool.close()
    ledger = Ledger()
    sink = LocalSink(tmp_path / "events.db")
    outbox = Outbox(Spool(tmp_path / "spool", max_bytes=1 << 20), max_events=100, adopt=adopter(sink.name, sink.encoder(), ledger))
    courier = Courier(lambda: sink, outbox, ledger, linger=0.05, log=lambda _: None)
    courier.start()
    assert courier.finish(30) and courier.error is None
    assert ledger.in_flight == 0 and ledger.snapshot()["(disk buffer of a previous run)"] == 2 * len(LINES)
    store = LocalStore(tmp_path / "events.db", create=False)
    assert store.db.execute("SELECT count(*) FROM events").fetchone() == (len(LINES),)  # the same events: stored once


class RecordingSink:
    """A sink that keeps what it is asked to do: ("write", seq) and ("flush", n written before)."""

    name = "recording"

    def __init__(self) -> None:
        self.counters: Counter[str] = Counter()
        self.calls: list[tuple[str, int]] = []
        self.flushed = threading.Event()
        self._ack: Callable[[int], None] | None = None
        self._unflushed: list[int] = []

    def open(self, ack: Callable[[int], None]) -> None:
        self._ack = ack

    def encoder(self) -> Callable[[list[dict]], list[bytes]]:
        return Encoder("default").encode

    def write(self, batch: Batch) -> None:
        self.calls.append(("write", batch.seq))
        self._unflushed.append(batch.seq)

    def flush(self) -> None:
        assert self._ack is not None
        self.calls.append(("flush", len(self._unflushed)))
        for seq in self._unflushed:
            self._ack(seq)
        self._unflushed = []
        self.flushed.set()

    def close(self) -> None:
        pass


def test_batches_that_follow_each_other_closely_are_flushed_together(tmp_path: Path) -> None:
    """A busy input's batches fill one bulk request: the courier flushes when none came for a quiet
    moment (or when the oldest waited ``linger``), not whenever it caught up with the reader."""
    outbox = Outbox(Spool(tmp_path / "spool", max_bytes=1 << 20), max_events=1000)
    ledger, sink = Ledger(), RecordingSink()
    courier = Courier(lambda: sink, outbox, ledger, linger=60, log=print, quiet=0.5)
    courier.start()
    for _ in range(10):  # a batch every millisecond or so: the courier is faster than that
        batch = encoded_batch(0)
        batch.seq = ledger.register("file-a", None, "file-a", batch.count, time.monotonic())
        outbox.put(batch, spill=False)
        time.sleep(0.001)
    assert sink.flushed.wait(30)  # after the quiet moment, long before linger
    assert [c for c in sink.calls if c[0] == "flush"] == [("flush", 10)]
    assert courier.finish(30) and courier.error is None and ledger.in_flight == 0
