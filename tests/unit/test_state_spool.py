"""The disk buffer: first in first out across segments, bounded, and safe against a torn record."""

from __future__ import annotations

import os
from pathlib import Path

from shipper.state.spool import Spool


def drain(spool: Spool) -> list[bytes]:
    out = []
    while (record := spool.get()) is not None:
        out.append(record)
    return out


def test_first_in_first_out_across_segments(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=1 << 20, segment_bytes=64 * 1024)
    records = [os.urandom(1000) + bytes([i % 256]) for i in range(300)]  # ~300 KB: several segments
    for r in records[:150]:
        spool.put(r)
    assert len(list((tmp_path / "spool").glob("*.seg"))) > 1
    got = [spool.get() for _ in range(100)]
    for r in records[150:]:
        spool.put(r)
    got += drain(spool)
    assert got == records
    assert spool.empty and spool.get() is None
    assert list((tmp_path / "spool").glob("*.seg")) == [] and spool.size == 0  # read segments are deleted


def test_full_at_the_cap(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=1 << 20)
    while not spool.full:
        spool.put(b"x" * 10_000)
    assert (1 << 20) - 10_008 < spool.size <= 1 << 20  # the record that did not fit waits in memory
    drain(spool)
    assert not spool.full


def test_records_left_by_a_crash_come_back_and_a_torn_one_is_skipped(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=1 << 20)
    for i in range(5):
        spool.put(f"record {i}".encode())
    spool.close()
    segment = next((tmp_path / "spool").glob("*.seg"))
    with open(segment, "ab") as f:  # the crash cut the last record short
        f.write(b"\x40\x00\x00\x00\x00\x00\x00\x00half a rec")
    again = Spool(tmp_path / "spool", max_bytes=1 << 20)
    again.put(b"new")
    assert drain(again) == [f"record {i}".encode() for i in range(5)] + [b"new"]
    assert again.empty
