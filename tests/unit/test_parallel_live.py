"""Replays of logs that are written while they are read, as on a live host, with worker processes
(and the express lanes): every entry or line that was there when the replay started is delivered
exactly once, none is delivered twice, and what was written meanwhile and read leaves no hole
below the newest one read. A journal that rotates during the replay and a rotated set whose files
are renamed during it hold the same. How much of what is written meanwhile gets read depends on
timing and is not asserted. (These were scripts run by hand in an earlier round; they found three
bugs that lost or duplicated data.)"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import orjson
import pytest

from tests.helpers.daemon import LiveJournal


def replay(path: Path, out: Path, home: Path) -> None:
    """``shipper replay`` with two workers into NDJSON; it must succeed."""
    proc = subprocess.run([sys.executable, "-m", "shipper", "replay", "--quiet", "--workers", "2", "--timezone", "UTC",
                           "--year", "2024", "--output", "ndjson", "-o", str(out), str(path)],
                          capture_output=True, text=True, env={**os.environ, "HOME": str(home)}, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]


def numbers(out: Path, marker: str) -> collections.Counter[int]:
    """How often each number written after ``marker`` in a message was delivered."""
    counts: collections.Counter[int] = collections.Counter()
    for line in out.read_bytes().splitlines():
        message = orjson.loads(line)["message"]
        if marker in message:
            counts[int(message.rsplit(marker, 1)[1])] += 1
    return counts


def assert_once(counts: collections.Counter[int], there: int) -> None:
    """Each of the first ``there`` numbers once, none twice, no hole below the largest read."""
    assert counts, "nothing was delivered"
    assert max(counts.values()) == 1, [n for n, k in counts.items() if k > 1][:10]
    newest = max(counts)
    assert newest >= there - 1
    assert [n for n in range(newest + 1) if n not in counts] == []


@contextmanager
def writing(write: Callable[[], None], pause: float) -> Iterator[None]:
    """``write`` called again and again in a thread, until the block ends."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            write()
            time.sleep(pause)

    thread = threading.Thread(target=loop)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _entries_in(path: Path) -> int:
    """The entry count in a journal file's header."""
    with open(path, "rb") as f:
        return int.from_bytes(f.read(160)[152:160], "little")


def _wait(done: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "systemd-journal-remote did not write the entries in time"
        time.sleep(0.02)


def _journal_entry(i: int) -> dict[str, str]:
    # Unique fields make systemd-journal-remote rotate its file after about 44,000 entries.
    return {"MESSAGE": f"line #{i}", "SYSLOG_IDENTIFIER": "app", "UNIQ_A": f"a{i}", "UNIQ_B": f"b{i}" * 3, "UNIQ_C": f"c{i}"}


@pytest.mark.parametrize("first", [6000, 40000], ids=["growing", "rotating"])
def test_a_journal_written_while_it_is_replayed(tmp_path: Path, first: int) -> None:
    pytest.importorskip("systemd.journal", reason="systemd-python is not installed")
    live = LiveJournal(tmp_path / "journal")
    try:
        live.write([_journal_entry(i) for i in range(first)])
        path = tmp_path / "journal" / "remote.journal"
        _wait(lambda: path.exists() and _entries_in(path) == first)
        files_before = len(live.files())

        def more() -> None:
            live.write([_journal_entry(i) for i in range(live.written, live.written + 500)])

        with writing(more, 0.005):
            replay(tmp_path / "journal", tmp_path / "out.ndjson", tmp_path)
        files_after = len(live.files())
    finally:
        live.close()
    assert_once(numbers(tmp_path / "out.ndjson", "#"), first)
    if first == 40000:
        assert files_before == 1 and files_after >= 2, "the journal rotated during the replay"


def _syslog_lines(start: int, stop: int) -> bytes:
    return b"".join(b"Jan  1 %02d:%02d:%02d host app[%d]: message #%d\n" % (i // 3600 % 24, i // 60 % 60, i % 60, i % 97, i)
                    for i in range(start, stop))


def test_a_log_appended_to_while_it_is_replayed(tmp_path: Path) -> None:
    path = tmp_path / "messages"
    path.write_bytes(_syslog_lines(0, 100_000))
    written = [100_000]

    def more() -> None:
        with open(path, "ab") as f:
            f.write(_syslog_lines(written[0], written[0] + 2000))
        written[0] += 2000

    with writing(more, 0.005):
        replay(path, tmp_path / "out.ndjson", tmp_path)
    assert_once(numbers(tmp_path / "out.ndjson", "#"), 100_000)


def test_a_rotated_set_renamed_while_it_is_replayed(tmp_path: Path) -> None:
    """logrotate's renames in the middle of a replay of the set: each file is read as it was
    listed, whatever its name becomes."""
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "messages.1").write_bytes(_syslog_lines(0, 150_000))
    (logs / "messages").write_bytes(_syslog_lines(150_000, 300_000))
    proc = subprocess.Popen([sys.executable, "-m", "shipper", "replay", "--quiet", "--workers", "2", "--timezone", "UTC",
                             "--year", "2024", "--output", "ndjson", "-o", str(tmp_path / "out.ndjson"), str(logs)],
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "HOME": str(tmp_path)})
    time.sleep(0.3)
    os.rename(logs / "messages.1", logs / "messages.2")
    os.rename(logs / "messages", logs / "messages.1")
    (logs / "messages").write_bytes(_syslog_lines(300_000, 300_100))
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    counts = numbers(tmp_path / "out.ndjson", "#")
    assert max(counts.values()) == 1
    assert [n for n in range(300_000) if n not in counts] == []
