"""The disk buffer keeps a record whole or not at all: a write the disk takes only part of (it filled
up meanwhile) is cut back and raised, and what follows is read in order; a record torn by a crash
(kill -9 while writing) is skipped, and reading goes on past it. Every record `put` accepted is
read back; what cannot be read is an `OutputError`, in the courier too."""

from __future__ import annotations

import errno
import itertools
import os
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import pytest

from shipper.daemon.courier import Courier, describe
from shipper.daemon.ledger import Ledger
from shipper.daemon.outbox import Outbox
from shipper.errors import ExitCode, OutputError
from shipper.sinks.local import LocalSink
from shipper.state.spool import Spool
from tests.helpers.disk import small_disk

ROOT = Path(__file__).resolve().parents[2]
NO_SPACE = os.strerror(errno.ENOSPC)


def drain(spool: Spool) -> list[bytes]:
    out = []
    while (record := spool.get()) is not None:
        out.append(record)
    return out


def record(i: int, size: int = 1000) -> bytes:
    return f"record {i} ".encode() + bytes([i % 256]) * size


def framed(payload: bytes) -> bytes:
    """A record as the buffer lays it out on disk (length, crc32, payload)."""
    return len(payload).to_bytes(4, "little") + zlib.crc32(payload).to_bytes(4, "little") + payload


def in_dir(fd: int, directory: Path) -> bool:
    try:
        return os.path.dirname(os.readlink(f"/proc/self/fd/{fd}")) == str(directory)
    except OSError:
        return False


class FillingDisk:
    """``os.write`` on a disk with ``room`` bytes left, for the files of ``directory``: it takes what
    fits, and then refuses with ENOSPC. ``mode`` "short" returns the count written (as the kernel
    does; the next write is refused), "raises" writes the part that fits and raises at once."""

    def __init__(self, directory: Path, mode: str) -> None:
        self.directory, self.mode, self.room = directory, mode, 1 << 40
        self._write = os.write

    def __call__(self, fd: int, data: Any) -> int:
        if not in_dir(fd, self.directory):
            return self._write(fd, data)
        data = bytes(data)
        if self.room == 0:
            raise OSError(errno.ENOSPC, NO_SPACE)
        written = self._write(fd, data[: self.room])
        self.room -= written
        if written < len(data) and self.mode == "raises":
            raise OSError(errno.ENOSPC, NO_SPACE)
        return written


@pytest.mark.parametrize("mode", ["short", "raises"])
def test_a_record_the_disk_took_half_of_is_not_stored_and_what_follows_is_read_in_order(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    directory = tmp_path / "spool"
    spool = Spool(directory, max_bytes=1 << 20, segment_bytes=64 * 1024)
    disk = FillingDisk(directory, mode)
    monkeypatch.setattr(os, "write", disk)
    for i in range(3):
        spool.put(record(i))
    assert spool.get() == record(0)  # the reader is in the segment being written
    disk.room = len(framed(record(3))) // 2  # the disk fills up in the middle of the next record
    with pytest.raises(OutputError) as raised:
        spool.put(record(3))
    assert raised.value.message == f"cannot write to the disk buffer in {directory}: {NO_SPACE}"
    assert raised.value.hint is not None and "free space where the state directory is" in raised.value.hint
    assert raised.value.exit_code == ExitCode.OUTPUT
    segment, = directory.glob("*.seg")
    assert segment.stat().st_size == 3 * len(framed(record(0)))  # cut back to where the record began
    disk.room = 1 << 40  # room again
    for i in range(4, 8):
        spool.put(record(i))
    assert drain(spool) == [record(i) for i in (1, 2, 4, 5, 6, 7)]
    assert spool.empty and spool.get() is None and spool.size == 0
    spool.close()


def test_when_the_cut_fails_too_the_segment_is_left_and_nothing_torn_is_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tmp_path / "spool"
    spool = Spool(directory, max_bytes=1 << 20, segment_bytes=64 * 1024)
    disk = FillingDisk(directory, "short")
    monkeypatch.setattr(os, "write", disk)
    for i in range(3):
        spool.put(record(i))
    disk.room = 100

    def refused(fd: int, length: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "ftruncate", refused)
    with pytest.raises(OutputError, match="cannot write to the disk buffer"):
        spool.put(record(3))
    disk.room = 1 << 40
    for i in range(4, 6):
        spool.put(record(i))  # into a new segment: the torn bytes stay at the end of the first one
    assert len(list(directory.glob("*.seg"))) == 2
    assert drain(spool) == [record(i) for i in (0, 1, 2, 4, 5)]
    spool.put(record(6))  # and after a restart (the segment's torn end is seen on disk), the same
    spool.close()
    assert drain(Spool(directory, max_bytes=1 << 20)) == [record(6)]


def test_a_real_full_disk_cuts_a_record_short_and_the_buffer_goes_on_once_there_is_room(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", "256k") as disk:
        filler = disk / "filler"
        filler.write_bytes(b"f" * (64 << 10))
        spool = Spool(disk / "spool", max_bytes=64 << 20, segment_bytes=64 << 20)
        stored = []
        with pytest.raises(OutputError, match=f"cannot write to the disk buffer in {disk / 'spool'}: {NO_SPACE}"):
            for i in range(1000):
                spool.put(record(i, 20_000))  # 20 KiB: the kernel takes the pages that are left of the last one
                stored.append(record(i, 20_000))
        assert 4 <= len(stored) < 12
        segment, = (disk / "spool").glob("*.seg")
        assert segment.stat().st_size == len(stored) * len(framed(stored[0]))
        filler.unlink()  # room again
        more = [record(i, 20_000) for i in range(1000, 1002)]
        for r in more:
            spool.put(r)
        assert drain(spool) == stored + more
        spool.close()


@pytest.mark.parametrize("tail", [
    pytest.param(lambda r: framed(r)[:3], id="in-the-header"),
    pytest.param(lambda r: framed(r)[:8], id="the-header-only"),
    pytest.param(lambda r: framed(r)[:9], id="one-byte-of-payload"),
    pytest.param(lambda r: framed(r)[:-1], id="all-but-the-last-byte"),
    pytest.param(lambda r: framed(r)[:8] + b"\0" * (len(r)), id="payload-never-written"),
    pytest.param(lambda r: b"\0" * 4096, id="zeros"),
])
def test_a_record_torn_by_a_crash_is_skipped_and_reading_goes_on(tmp_path: Path, tail: Any) -> None:
    directory = tmp_path / "spool"
    crashed = Spool(directory, max_bytes=1 << 20)
    for i in range(5):
        crashed.put(record(i))
    crashed.close()
    segment, = directory.glob("*.seg")
    with open(segment, "ab") as f:  # the crash came while the sixth record was written
        f.write(tail(record(5)))
    again = Spool(directory, max_bytes=1 << 20)
    assert again.get() == record(0)
    again.put(record(6))
    assert drain(again) == [record(i) for i in (1, 2, 3, 4, 6)]
    assert again.empty and again.get() is None
    again.close()
    assert list(directory.glob("*.seg")) == []


def test_two_crashed_runs_each_leaving_a_torn_record(tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    for run in range(2):
        spool = Spool(directory, max_bytes=1 << 20)
        for i in range(3):
            spool.put(record(10 * run + i))
        spool.close()
        last = sorted(directory.glob("*.seg"))[-1]
        with open(last, "ab") as f:
            f.write(framed(record(10 * run + 3))[:500])
    assert drain(Spool(directory, max_bytes=1 << 20)) == [record(i) for i in (0, 1, 2, 10, 11, 12)]


WRITER = """
import sys
from pathlib import Path
from shipper.state.spool import Spool
spool = Spool(Path(sys.argv[1]), max_bytes=1 << 40, segment_bytes=1 << 40)
i = 0
while True:
    spool.put(b"%d " % i + bytes([i % 256]) * (4 << 20))  # `stored_record`
    print(i, flush=True)  # put returned: the record is stored
    i += 1
"""


def stored_record(i: int) -> bytes:
    return b"%d " % i + bytes([i % 256]) * (4 << 20)


def crash_while_writing(directory: Path) -> tuple[int, bool]:
    """Run `WRITER` until it wrote ~10 records, kill -9 it: how many records it was told were
    stored, and whether the kill cut the one it was writing."""
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(directory)], stdout=subprocess.PIPE, cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert writer.stdout is not None
    deadline = time.monotonic() + 60
    while sum(p.stat().st_size for p in directory.glob("*.seg")) < 40 << 20:
        assert time.monotonic() < deadline and writer.poll() is None, "the writer did not write"
        time.sleep(0.001)
    writer.send_signal(signal.SIGKILL)
    stored = len(writer.stdout.read().split())
    writer.wait(30)
    size = sum(p.stat().st_size for p in directory.glob("*.seg"))
    return stored, size not in set(itertools.accumulate(len(framed(stored_record(i))) for i in range(stored + 2)))


def test_kill_9_while_writing_loses_no_stored_record_and_reading_goes_on(tmp_path: Path) -> None:
    for attempt in range(8):  # until the kill cuts a record (about one in two does)
        directory = tmp_path / f"spool{attempt}"
        stored, torn = crash_while_writing(directory)
        spool = Spool(directory, max_bytes=1 << 40)
        spool.put(b"after the crash")
        got = drain(spool)
        assert got[-1] == b"after the crash"
        read = got[:-1]
        assert stored <= len(read) <= stored + 1  # every stored record; the one being written, if it was whole
        assert read == [stored_record(i) for i in range(len(read))]
        assert spool.empty and list(directory.glob("*.seg")) == []
        spool.close()
        if torn:
            break


def test_a_segment_that_cannot_be_read_is_an_output_error_naming_the_buffer(tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    spool = Spool(directory, max_bytes=1 << 20, segment_bytes=64 * 1024)
    for i in range(100):  # two segments
        spool.put(record(i))
    first, second = sorted(directory.glob("*.seg"))
    second.unlink()  # the disk lost it
    got = [spool.get() for _ in range(60)]
    with pytest.raises(OutputError) as raised:
        while spool.get() is not None:
            pass
    assert raised.value.message == f"cannot read the disk buffer in {directory}: {os.strerror(errno.ENOENT)}"
    assert raised.value.hint is not None and "state directory" in raised.value.hint
    assert got == [record(i) for i in range(60)] and not first.exists()
    spool.close()


def test_the_courier_stops_with_the_buffer_s_error_not_an_unexpected_one(tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    spool = Spool(directory, max_bytes=1 << 20)
    spool.put(record(0))
    spool.close()
    left = Spool(directory, max_bytes=1 << 20)  # a previous run's record waits
    for segment in directory.glob("*.seg"):
        segment.unlink()  # and is lost before it is read
    courier = Courier(lambda: LocalSink(tmp_path / "events.db"), Outbox(left, 100), Ledger(), linger=0.05,
                      log=lambda _: None)
    courier.start()
    assert courier.finish(30)
    assert isinstance(courier.error, OutputError)
    assert courier.error.message == f"cannot read the disk buffer in {directory}: {os.strerror(errno.ENOENT)}"
    assert describe(courier.error).startswith(courier.error.message)  # what the daemon says when it stops
