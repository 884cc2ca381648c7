"""Files that vanish while shipper is stopped, with parts never read (the output down the whole time,
its disk buffer full: reading paused), are gaps at the next start that say how many bytes are lost:
one of which nothing at all was read or acknowledged (it used to be no gap), one read in part (the
gap used to count only up to where reading stopped: what had been read)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.helpers.daemon import DaemonProcess, read_status, wait_for, write_config

MiB = 1 << 20
LINE = "Aug 30 15:00:00 gorp {}[1]: " + "x" * 90 + " {}\n"


def _write(path: Path, size: int) -> int:
    path.write_text("".join(LINE.format(path.stem, i) for i in range(size // len(LINE))))
    return path.stat().st_size


def _run(config: Path, stderr: Path, until: str) -> str:
    state = config.parent / "state"
    with DaemonProcess(config, stderr) as daemon:
        if until == "buffer full":
            wait_for(lambda: read_status(state).get("spool_bytes", 0) >= MiB // 2, 60, "the disk buffer filling")
            time.sleep(1.5)  # (full by then: reading paused)
        else:
            wait_for(lambda: read_status(state).get("state") == "running" and "inputs:" in daemon.output(), 60, until)
            time.sleep(0.5)
        assert daemon.stop() == 0, daemon.output()
        return daemon.output()


def _shipped(state: Path, path: Path) -> int:
    files = json.loads((state / "checkpoints" / "file-logs.json").read_text())["state"]["files"]
    return int(next(f["shipped"] for f in files if f["path"] == str(path)))


def test_the_unread_rest_of_files_gone_while_stopped_is_reported_lost(tmp_path: Path) -> None:
    logs, state = tmp_path / "logs", tmp_path / "state"
    logs.mkdir()
    a, b = logs / "a.log", logs / "b.log"
    a_size = _write(a, 5 * MiB)
    config = write_config(tmp_path / "shipper.yml", {
        "state_dir": str(state), "inputs": [{"type": "file", "name": "logs", "paths": [str(logs / "*.log")]}],
        "parse": {"timezone": "UTC"},
        "output": {"elasticsearch": {"hosts": ["http://127.0.0.1:9"], "retry_initial": 0.05, "retry_max": 0.5}},
        "run": {"batch_wait": "50ms", "status_interval": "100ms", "stop_timeout": "1s", "spool_max_bytes": "1MiB"}})
    _run(config, tmp_path / "stderr1.txt", "buffer full")
    b_size = _write(b, MiB // 4)
    _run(config, tmp_path / "stderr2.txt", "a start with the disk buffer full")  # (b.log found, not read)
    a_shipped = _shipped(state, a)
    assert 0 < a_shipped < a_size - MiB and _shipped(state, b) == 0
    a.unlink()  # rotated away and deleted while shipper is stopped
    b.unlink()
    said = _run(config, tmp_path / "stderr3.txt", "the next start")
    for path, shipped, size in ((a, a_shipped, a_size), (b, 0, b_size)):
        assert (f"{path} was removed or replaced before shipper shipped all of it: the {size - shipped:,} bytes after "
                f"byte {shipped:,} (of {size:,}) were not shipped and are lost") in said, said
    # (a kill -9 may have left out of the checkpoint what the output took in its last second: said, not hidden)
    assert "the output may have taken some of them in the second before it: the checkpoint is saved once a second" in said
