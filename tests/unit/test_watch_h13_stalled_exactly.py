"""An NDJSON output stuck in a write (a FIFO nobody reads): how long it has taken no batch is timed
from when the write began (`Courier.busy_since`), not from when the loop first saw the stall plus
`STALLED_AFTER` (a watch that first looked 6 s into the write said 5 s)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from shipper.daemon.courier import STALLED_AFTER, Courier
from shipper.daemon.ledger import Ledger
from shipper.daemon.outbox import Outbox
from shipper.daemon.watch import OutputWatch
from shipper.event import Batch
from shipper.sinks.ndjson import NdjsonSink
from shipper.state.spool import Spool
from tests.helpers.daemon import wait_for

DOCS = 2000  # ~200 kB of lines: more than a pipe holds


def test_a_stuck_write_is_timed_from_when_it_began(tmp_path: Path) -> None:
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # opened, not read (yet): the write blocks once it is full
    outbox = Outbox(Spool(tmp_path / "spool", max_bytes=1 << 24), max_events=10 * DOCS)
    ledger, sink = Ledger(), NdjsonSink(path=fifo)
    courier = Courier(lambda: sink, outbox, ledger, linger=0.05, log=lambda _: None)
    courier.start()
    try:
        batch = Batch([{"message": f"line {i} " + "x" * 100} for i in range(DOCS)], source_id="file-a")
        batch.seq = ledger.register("file-a", None, "file-a", batch.count, time.monotonic())
        outbox.put(batch, spill=False)
        began = wait_for(lambda: courier.busy_since, 30, "the write begun")
        assert began is not None
        time.sleep(0.3)
        assert courier.busy_since == began and courier.connected  # stuck in it
        watch = OutputWatch()
        assert not watch.back(courier)
        assert watch.stalled_for(began + 1) is None  # (not yet: STALLED_AFTER)
        later = OutputWatch()  # first looks 6 s into the write
        assert not later.back(courier)
        assert later.stalled_for(began + STALLED_AFTER + 1) == pytest.approx(STALLED_AFTER + 1, abs=1e-6)
        assert later.stalled_for(began + 30) == pytest.approx(30, abs=1e-6)
    finally:
        os.set_blocking(reader, True)
        drain = threading.Thread(target=lambda: [None for _ in iter(lambda: os.read(reader, 1 << 16), b"")])
        drain.start()
        assert courier.finish(30) and courier.error is None
        drain.join(30)
        os.close(reader)
    assert courier.busy_since is None and ledger.in_flight == 0
