"""copytruncate (``cp app.log app.log.1; truncate app.log``), then shipper killed (SIGKILL) before
it saw it, so before any checkpoint saved since: at the restart the scan, not the reader, finds
``app.log``'s inode holding other content. It looks for a copy at once (`FileFollower._lose`), as
the reader does: the input reading ``app.log`` reads the rest of its old content from the copy,
which only the other input (``app.log.*``) matches and which that one skips, with no gap. Real
`shipper run`, SIGSTOP/SIGKILL, NDJSON output, every line counted once."""

from __future__ import annotations

import os
import shutil
import signal
from collections import Counter
from pathlib import Path

import orjson
import pytest

from shipper.state.checkpoints import CheckpointStore
from tests.helpers.daemon import DaemonProcess, wait_for
from tests.unit.test_claims_f4_copytruncate import app_inputs
from tests.unit.test_daemon_h4_claims_restart import config, lines, settled, shipped, stop


@pytest.mark.parametrize("live_first", [True, False])
def test_a_copytruncate_just_before_a_kill_is_read_on_from_the_copy(tmp_path: Path, live_first: bool) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    app, copy = logs / "app.log", logs / "app.log.1"
    app.write_text(lines(0, 10))
    live, rotated = app_inputs(logs)
    cfg = config(tmp_path, [live, rotated] if live_first else [rotated, live])
    with DaemonProcess(cfg, tmp_path / "stderr1.txt") as daemon:
        size = app.stat().st_size
        wait_for(lambda: settled(tmp_path, 10) and _shipped(tmp_path) == size, 60, "the 10 lines shipped and checkpointed")
        daemon.signal(signal.SIGSTOP)  # (it sees nothing of what follows: no checkpoint is saved after it)
        with app.open("a") as f:  # lines written just before the rotation: in the copy only
            f.write(lines(10, 3))
        shutil.copyfile(app, copy)
        os.truncate(app, 0)
        with app.open("a") as f:
            f.write(lines(13, 3))
        daemon.kill()
    with DaemonProcess(cfg, tmp_path / "stderr2.txt") as daemon:
        wait_for(lambda: settled(tmp_path, 16), 60, "the 6 lines written around the rotation shipped")
        with app.open("a") as f:
            f.write(lines(16, 2))
        wait_for(lambda: settled(tmp_path, 18), 60, "the lines after the restart shipped")
        said = stop(daemon)
    got = shipped(tmp_path)
    assert got == Counter(f"line {i}" for i in range(18)), got
    assert f"{app} was truncated; reading the rest of its old content from {copy}" in said, said
    assert "may be missing" not in said and "removed or replaced" not in said, said


def _shipped(tmp_path: Path) -> int:
    """How far the input ``live``'s checkpoint says its file was shipped."""
    path = CheckpointStore(tmp_path / "state").path("file-live")
    files = orjson.loads(path.read_bytes())["state"]["files"] if path.exists() else []
    return int(files[0]["shipped"]) if files else -1
