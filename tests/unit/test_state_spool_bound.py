"""The disk buffer never takes more than its bound: a record that would go over waits in memory
(it used to be written, and one read turn took the buffer ~65% past run.spool_max_bytes), with
everything after it, in order; one record larger than the whole bound still goes through."""

from __future__ import annotations

from pathlib import Path

from shipper.state.spool import Spool

BOUND = 1 << 20


def disk(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.glob("*.seg"))


def test_the_files_stay_under_the_bound_and_what_did_not_fit_comes_after_in_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=BOUND, segment_bytes=64 * 1024)
    records = [i.to_bytes(4, "big") * 7_000 for i in range(60)]  # 28 kB each: 1.6 MiB in all
    for record in records:
        spool.put(record)
        assert disk(tmp_path / "spool") <= BOUND and spool.size <= BOUND
    assert spool.full and not spool.empty
    got = []
    while (record := spool.get()) is not None:
        got.append(record)
        if len(got) == 10:
            assert spool.full  # records still wait in memory: reading stays paused
            spool.put(b"late")  # put while they wait: after them
    assert got == records + [b"late"]
    assert spool.empty and not spool.full and spool.size == 0


def test_a_record_larger_than_the_bound_goes_through(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=BOUND)
    spool.put(b"small")
    spool.put(b"x" * (BOUND + 1))
    assert spool.full and spool.size < 100
    assert spool.get() == b"small" and spool.get() == b"x" * (BOUND + 1)
    assert spool.empty and not spool.full
    spool.put(b"next")  # the files take records again
    assert spool.size > 0 and spool.get() == b"next"
