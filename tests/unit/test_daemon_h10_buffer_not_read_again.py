"""What waited for a stuck output goes to the disk buffer at a reload or a stop, and is delivered
from there: its lines are not read again from the inputs too (an NDJSON file used to get both
copies: 1,489 lines for 1,000 after a reload away from a FIFO nobody read). Only the lines of the
write the stuck output was in may come again. A ``kill -9`` while batches wait in the buffer loses
nothing: the buffer keeps a record until the output acknowledged it."""

from __future__ import annotations

import os
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from tests.helpers.daemon import DaemonProcess, read_status, wait_for, write_config

LINES = 4000
BATCH = 256  # run.batch_events


def line(i: int) -> str:
    return f"Aug 30 15:{i // 60 % 60:02d}:{i % 60:02d} gorp app[{i}]: line {i}\n"


def config(tmp_path: Path, log: Path, out: Path, **run: Any) -> Path:
    return write_config(tmp_path / "shipper.yml", {
        "state_dir": str(tmp_path / "state"),
        "inputs": [{"type": "file", "name": "messages", "paths": [str(log)]}],
        "parse": {"timezone": "UTC", "year": 2017},
        "output": {"ndjson": {"path": str(out)}},
        "run": {"batch_wait": "50ms", "status_interval": "100ms", "stop_timeout": "1s", "batch_events": BATCH, **run}})


def status(tmp_path: Path) -> dict[str, Any]:
    return read_status(tmp_path / "state")


def read(tmp_path: Path) -> int:
    return int(status(tmp_path).get("inputs", {}).get("file-messages", {}).get("read", 0))


def ids(path: Path) -> Counter[str]:
    """The ``event.id`` of each line of an NDJSON file, counted."""
    data = path.read_bytes() if path.exists() else b""
    return Counter(orjson.loads(row)["event"]["id"] for row in data.splitlines() if row)


class Pipe:
    """A FIFO held open by a reader that reads nothing until `drain`: writes block once it is full."""

    def __init__(self, path: Path) -> None:
        os.mkfifo(path)
        self.path = path
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self.data = b""

    def drain(self, field: str = "id") -> Counter[str]:
        """The ``event.id`` (or ``message``) of the documents written to the pipe so far, counted (a
        line the writer did not finish is left out)."""
        while True:
            try:
                chunk = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                break
            if not chunk:
                break
            self.data += chunk
        docs = [orjson.loads(row) for row in self.data[: self.data.rfind(b"\n") + 1].splitlines() if row]
        return Counter(doc["event"]["id"] if field == "id" else doc[field] for doc in docs)


def every_line_once(new: Counter[str], old: Counter[str]) -> None:
    twice = [i for i, n in new.items() if n > 1]
    assert not twice, f"{len(twice)} documents twice in the new output ({sum(new.values())} lines)"
    assert len(set(new) | set(old)) == LINES, (len(new), len(old))
    assert len(set(new) & set(old)) <= 2 * BATCH  # (at most the write the stuck output was in)


def test_a_reload_away_from_a_stuck_output_ships_each_line_once(tmp_path: Path) -> None:
    log = tmp_path / "messages"
    log.write_text("".join(line(i) for i in range(LINES)))
    pipe, new = Pipe(tmp_path / "stuck.ndjson"), tmp_path / "new.ndjson"
    try:
        with DaemonProcess(config(tmp_path, log, pipe.path), tmp_path / "stderr.txt") as daemon:
            wait_for(lambda: read(tmp_path) == LINES, 60, "every line read, the output stuck")
            config(tmp_path, log, new)
            daemon.signal(signal.SIGHUP)
            wait_for(lambda: "reloaded" in daemon.output(), 60, "the reload")
            wait_for(lambda: len(set(ids(new)) | set(pipe.drain())) == LINES, 60, "every line delivered")
            assert daemon.stop() == 0, daemon.output()
        every_line_once(ids(new), pipe.drain())
    finally:
        os.close(pipe.fd)


def test_a_stop_with_a_stuck_output_then_a_start_ships_each_line_once(tmp_path: Path) -> None:
    log = tmp_path / "messages"
    log.write_text("".join(line(i) for i in range(LINES)))
    pipe, new = Pipe(tmp_path / "stuck.ndjson"), tmp_path / "new.ndjson"
    try:
        with DaemonProcess(config(tmp_path, log, pipe.path), tmp_path / "stderr1.txt") as daemon:
            wait_for(lambda: read(tmp_path) == LINES, 60, "every line read, the output stuck")
            assert daemon.stop() == 0, daemon.output()
        old = pipe.drain()
    finally:
        os.close(pipe.fd)
    with DaemonProcess(config(tmp_path, log, new), tmp_path / "stderr2.txt") as daemon:
        wait_for(lambda: len(set(ids(new)) | set(old)) == LINES, 60, "every line delivered")
        assert daemon.stop() == 0, daemon.output()
    every_line_once(ids(new), old)
