"""SIGHUP away from an NDJSON output that is stuck (a pipe nobody reads): the old output cannot let
go of the batch it is writing, but what waited in memory for it goes to the disk buffer, for the new
output, and the old output ends once its write returns: it gets nothing more (it used to take every
batch that waited for it once it could write again, and could read the disk buffer the next session
reads)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import orjson

from tests.helpers.daemon import DaemonProcess, read_status, wait_for, write_config

LINES = 4000
BATCH = 256  # run.batch_events


def config(tmp_path: Path, log: Path, out: Path) -> Path:
    return write_config(tmp_path / "shipper.yml", {
        "state_dir": str(tmp_path / "state"),
        "inputs": [{"type": "file", "name": "messages", "paths": [str(log)]}],
        "parse": {"timezone": "UTC", "year": 2017},
        "output": {"ndjson": {"path": str(out)}},
        "run": {"batch_wait": "50ms", "status_interval": "100ms", "stop_timeout": "1s", "batch_events": BATCH}})


def status(tmp_path: Path) -> dict[str, Any]:
    return read_status(tmp_path / "state")


def drain(fd: int, seconds: float) -> bytes:
    """What the pipe gives for ``seconds`` (the old output writes on as long as it is read)."""
    data, deadline = b"", time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            time.sleep(0.05)
            continue
        if not chunk:
            time.sleep(0.05)
        data += chunk
    return data


def messages(data: bytes) -> set[str]:
    return {orjson.loads(line)["message"] for line in data.splitlines() if line}


def test_a_reload_away_from_a_stuck_output_leaves_it_nothing_more(tmp_path: Path) -> None:
    log = tmp_path / "messages"
    log.write_text("".join(f"Aug 30 15:{i // 60 % 60:02d}:{i % 60:02d} gorp app[{i}]: line {i}\n" for i in range(LINES)))
    pipe = tmp_path / "stuck.ndjson"
    os.mkfifo(pipe)
    reader = os.open(pipe, os.O_RDONLY | os.O_NONBLOCK)  # held open, not read: writes block once it is full
    try:
        new = tmp_path / "new.ndjson"
        with DaemonProcess(config(tmp_path, log, pipe), tmp_path / "stderr.txt") as daemon:
            wait_for(lambda: status(tmp_path).get("inputs", {}).get("file-messages", {}).get("read") == LINES, 60,
                     "every line read, the output stuck")
            config(tmp_path, log, new)
            daemon.signal(signal.SIGHUP)
            wait_for(lambda: "reloaded" in daemon.output(), 60, "the reload")
            wait_for(lambda: new.exists() and len(messages(new.read_bytes())) == LINES, 60, "every line in the new output")
            old = drain(reader, 3.0)  # the old output can write again
            assert daemon.stop() == 0, daemon.output()
    finally:
        os.close(reader)
    # the batches it had in hand when it got stuck (two: 511 documents here), not the thousands that
    # waited for it
    assert 0 < len(messages(old)) <= 3 * BATCH, len(messages(old))
    said = daemon.output()
    assert ("wait in the disk buffer in" in said and "for the new configuration's output (nothing is lost); it is left "
            "to finish the write it is stuck in" in said), said
