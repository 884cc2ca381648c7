"""copytruncate where only another input matches the copy (``app.log`` read by one input,
``app.log.*`` by another): the copy holds content the first input has not read to its end, so it
is that input's (`Claims.copy_of`): it reads the rest of the old content from the copy, and the
other input skips the copy rather than reading again what the first one shipped. Real
`shipper run`, NDJSON output, every line counted once."""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

from tests.helpers.daemon import DaemonProcess, wait_for
from tests.unit.test_daemon_h4_claims_restart import config, lines, settled, shipped, stop


def app_inputs(logs: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two inputs: ``live`` reads ``app.log``, ``rotated`` its copies (``app.log.*``)."""
    live = {"type": "file", "name": "live", "paths": [str(logs / "app.log")], "flush_after": "100ms",
            "scan_interval": "200ms"}
    rotated = {"type": "file", "name": "rotated", "paths": [str(logs / "app.log.*")], "flush_after": "100ms",
               "scan_interval": "200ms"}
    return live, rotated


def test_a_copytruncate_copy_only_another_input_matches_is_read_on_by_the_first(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    app, copy = logs / "app.log", logs / "app.log.1"
    app.write_text(lines(0, 10))
    live, rotated = app_inputs(logs)
    with DaemonProcess(config(tmp_path, [live, rotated]), tmp_path / "stderr.txt") as daemon:
        wait_for(lambda: settled(tmp_path, 10), 60, "the 10 lines shipped")
        with app.open("a") as f:  # lines written just before the rotation: in the copy only
            f.write(lines(10, 3))
        shutil.copyfile(app, copy)
        os.truncate(app, 0)
        with app.open("a") as f:
            f.write(lines(13, 3))
        wait_for(lambda: settled(tmp_path, 16) and f"{copy} holds the content" in daemon.output(), 60,
                 "the 16 lines shipped, the copy skipped by the other input")
        with app.open("a") as f:
            f.write(lines(16, 2))
        wait_for(lambda: settled(tmp_path, 18), 60, "the lines after the rotation shipped")
        said = stop(daemon)
    got = shipped(tmp_path)
    assert got == Counter(f"line {i}" for i in range(18)), got
    assert f"reading the rest of its old content from {copy}" in said, said
    assert "may be missing" not in said, said  # (no gap: the copy was found)
