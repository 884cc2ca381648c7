"""SIGTERM while the output is unreachable: `shipper run` stops at once and says what became of
what it read (in the disk buffer, sent at the next start); it used to blame run.stop_timeout ("did
not take everything within 3 s"), a timeout that never expired."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

from tests.helpers.daemon import DaemonProcess, wait_for, write_config

LINES = 300


def closed_port() -> int:
    """A local port nothing listens on (connections to it are refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def status(state: Path) -> dict[str, object]:
    path = state / "status.json"
    try:
        return dict(json.loads(path.read_text()))
    except (FileNotFoundError, ValueError):
        return {}


def test_sigterm_with_elasticsearch_unreachable_says_where_the_events_are(tmp_path: Path) -> None:
    log = tmp_path / "messages"
    log.write_text("".join(f"Aug 30 15:00:{i % 60:02d} gorp app[{i}]: line {i}\n" for i in range(LINES)))
    state = tmp_path / "state"
    cfg = write_config(tmp_path / "shipper.yml", {
        "state_dir": str(state),
        "inputs": [{"type": "file", "paths": [str(log)], "name": "messages"}],
        "parse": {"timezone": "UTC", "year": 2017},
        "output": {"elasticsearch": {"hosts": [f"http://127.0.0.1:{closed_port()}"]}},
        "run": {"batch_wait": "50ms", "status_interval": "100ms", "stop_timeout": "3s"},
    })
    with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
        wait_for(lambda: status(state).get("spool_bytes"), 60, "the lines in the disk buffer")
        began = time.monotonic()
        assert daemon.stop() == 0, daemon.output()
        took = time.monotonic() - began
    said = daemon.output()
    assert took < 2.5, (took, said)  # it did not wait for run.stop_timeout: nothing could be sent
    assert "stop_timeout" not in said and "within 3 s" not in said, said
    assert f"in the disk buffer in {state / 'spool'}" in said, said
    assert "the output is unreachable: the " in said and "for the next start" in said, said
    assert sum(f.stat().st_size for f in (state / "spool").glob("*.seg")) > 0  # (what the message says)
