"""A file input removed from the configuration (at a SIGHUP, or while shipper is stopped) hands its
files to the next input whose patterns match them, which reads them on from where the output had
acknowledged them (the removed input's checkpoint: `Claims.leave`), not from their start: real
`shipper run` processes, NDJSON output, every line counted once. A file the removed input had read
to its end and rotated away is taken as read."""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path
from typing import Any

from tests.helpers.daemon import DaemonProcess, wait_for
from tests.unit.test_daemon_h4_claims_restart import config, lines, settled, shipped, stop


def _input(name: str, pattern: Path) -> dict[str, Any]:
    return {"type": "file", "name": name, "paths": [str(pattern)], "flush_after": "100ms", "scan_interval": "200ms"}


def _append(path: Path, first: int, n: int) -> None:
    with path.open("a") as f:
        f.write(lines(first, n))


def test_an_input_removed_at_a_reload_hands_its_file_on_where_it_was(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    app = logs / "app.log"
    app.write_text(lines(0, 10))
    (logs / "other.log").write_text(lines(100, 2, "other"))
    first, every = _input("app", logs / "app*.log"), _input("all", logs / "*.log")
    cfg = config(tmp_path, [first, every], stop_timeout="5s")
    with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
        wait_for(lambda: settled(tmp_path, 12), 60, "the 12 lines shipped")
        config(tmp_path, [every], stop_timeout="5s")  # app.log is now the other input's only
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: "shipper: reloaded" in daemon.output(), 60, "the reload")
        _append(app, 10, 5)
        wait_for(lambda: settled(tmp_path, 17), 60, "the 5 new lines shipped")
        said = stop(daemon)
    got = shipped(tmp_path)
    assert got == Counter([f"line {i}" for i in range(15)] + ["line 100", "line 101"]), got
    assert "removed or replaced" not in said, said


def test_an_input_removed_while_stopped_hands_on_its_files_and_those_it_finished(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    app, old = logs / "app.log", logs / "app-old.log"
    old.write_text(lines(0, 5))
    app.write_text(lines(5, 5))
    first, every = _input("app", logs / "app*.log"), _input("all", logs / "*.log")
    with DaemonProcess(config(tmp_path, [first, every]), tmp_path / "stderr1.txt") as daemon:
        wait_for(lambda: settled(tmp_path, 10), 60, "the 10 lines shipped")
        stop(daemon)
    old.rename(logs / "rotated.log")  # (shipped to its end: nothing of it is read again)
    with DaemonProcess(config(tmp_path, [every]), tmp_path / "stderr2.txt") as daemon:
        _append(app, 10, 5)
        wait_for(lambda: settled(tmp_path, 15), 60, "the 5 new lines shipped")
        said = stop(daemon)
    got = shipped(tmp_path)
    assert got == Counter(f"line {i}" for i in range(15)), got
    assert "removed or replaced" not in said, said
