"""A file input's checkpoint is saved when its files change (a rotated file compressed, a copy
found), not only when the output acknowledged something: a rotated file gzipped while the input had
nothing new to ship used to stay in the checkpoint as the plain file, gone since (its archive not
in it) until the next line shipped, and after a stop for good.

Real `shipper run`, real gzip, SIGTERM, NDJSON output."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from shipper.state.checkpoints import CheckpointStore
from tests.helpers.daemon import DaemonProcess, wait_for
from tests.unit.test_claims_s18_handover_gzipped import _config, _lines, _saved, _settled
from tests.unit.test_claims_s17_rivals import _files


def _copies(tmp_path: Path) -> list[tuple[str, list[list[int]]]]:
    return [(f["path"], f["copies"]) for f in _files(tmp_path, "file-A") or []]  # (as it is now)


def test_an_archive_found_with_nothing_to_ship_is_in_the_checkpoint_before_and_after_a_stop(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    app, rotated = logs / "app.log", logs / "app.log-1"
    app.write_text(_lines(50, 300))
    with DaemonProcess(_config(tmp_path, "A", logs), tmp_path / "stderr.txt") as daemon:
        wait_for(lambda: _settled(tmp_path, 300), 60, "app.log shipped")
        app.rename(rotated)
        app.write_text(_lines(52, 100))
        wait_for(lambda: _settled(tmp_path, 400), 60, "the new app.log shipped")
        assert _saved(tmp_path) == [(str(rotated), []), (str(app), [])]  # (no longer rewritten: all acknowledged)
        os.utime(rotated, (time.time() - 60, time.time() - 60))  # (settled: not being written)
        subprocess.run(["gzip", str(rotated)], check=True)
        gz = os.stat(logs / "app.log-1.gz")
        archived = [(str(rotated), [[gz.st_dev, gz.st_ino]]), (str(app), [])]
        wait_for(lambda: _copies(tmp_path) == archived, 10, "the archive saved with nothing to ship")
        assert daemon.stop() == 0, daemon.output()
        said = daemon.output()
    assert _copies(tmp_path) == archived, said
    assert CheckpointStore(tmp_path / "state").load("file-A") is not None
