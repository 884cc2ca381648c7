"""The disk buffer keeps a record in its files until the output acknowledged its batch, not until it
was read: after a crash (no `close`) the next run hands out again what was taken and not
acknowledged, and nothing that was acknowledged before the last `sync`. A batch in the files counts
as acknowledged for the checkpoints (`Ledger.kept`), so a record read and lost there would be lost."""

from __future__ import annotations

from pathlib import Path

from shipper.daemon.ledger import Ledger
from shipper.daemon.outbox import ORPHAN, Outbox, decode_record
from shipper.event import Batch
from shipper.state.spool import Spool


def batch(i: int) -> Batch:
    return Batch([{"message": f"line {i}", "event": {"id": f"id{i}"}}], source_id="s")


def test_a_crash_hands_out_again_what_was_taken_and_not_acknowledged(tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    ledger = Ledger()
    outbox = Outbox(Spool(directory, max_bytes=1 << 20, segment_bytes=64 * 1024), 10)
    outbox.kept = ledger.kept
    seqs = [ledger.register("s", f"checkpoint {i}", "input", 1, 0.0) for i in range(300)]
    for i, seq in enumerate(seqs):  # (several segments)
        b = batch(i)
        b.seq = seq
        outbox.put(b, spill=True)
    assert ledger.released() == {"s": "checkpoint 299"}  # (every batch in the files: as acknowledged)
    taken = [outbox.get(0) for _ in range(250)]
    assert all(b is not None for b in taken)
    for b in taken[:200]:
        assert b is not None
        ledger.ack(b.seq)
        outbox.acked(b.seq)
    outbox.spool.sync()  # (as the session does before it saves checkpoints; then a crash: no close)
    again = Spool(directory, max_bytes=1 << 20, segment_bytes=64 * 1024)
    messages = []
    while (raw := again.get()) is not None:
        back = decode_record(raw, "the next run")
        assert back.seq == ORPHAN
        messages.append(back.docs[0]["message"])
    assert messages == [f"line {i}" for i in range(200, 300)]
