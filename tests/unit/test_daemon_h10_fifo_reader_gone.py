"""The program reading the daemon's NDJSON FIFO goes away: the daemon stops with an output error
(exit 5) that names the FIFO and says what to do, not "unexpected error in the output thread:
BrokenPipeError" (exit 1)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.helpers.daemon import DaemonProcess, wait_for, write_config


def line(i: int) -> str:
    return f"Aug 30 15:00:{i % 60:02d} gorp app[{i}]: fifo line {i}\n"


def test_a_reader_closing_the_fifo_is_an_output_error(tmp_path: Path) -> None:
    log = tmp_path / "messages"
    log.write_text("".join(line(i) for i in range(100)))
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    cfg = write_config(tmp_path / "shipper.yml", {
        "state_dir": str(tmp_path / "state"),
        "inputs": [{"type": "file", "name": "messages", "paths": [str(log)]}],
        "parse": {"timezone": "UTC", "year": 2017},
        "output": {"ndjson": {"path": str(fifo)}},
        "run": {"batch_wait": "50ms", "status_interval": "100ms", "stop_timeout": "1s"}})
    with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
        got = b""

        def read_some() -> bool:
            nonlocal got
            try:
                got += os.read(reader, 1 << 16)
            except BlockingIOError:
                pass
            return got.count(b"\n") >= 99

        wait_for(read_some, 30, "the first lines through the FIFO")
        os.close(reader)
        with log.open("a") as f:
            for i in range(100, 200):
                f.write(line(i))
                f.flush()
                time.sleep(0.005)
        wait_for(lambda: not daemon.running(), 30, "the daemon to stop on the output error")
        code = daemon.stop()
    said = daemon.output()
    assert code == 5, said
    assert f"cannot write {fifo}" in said and "BrokenPipeError" not in said, said
