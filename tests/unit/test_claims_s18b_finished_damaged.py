"""A configured file input's checkpoint whose list of files read to their end (``finished``) holds a
damaged entry (a hand edit) is refused as a damaged file entry is (`Tracked.from_json`): a start
stops with exit 3 naming it, a reload is refused and the running configuration goes on. The entry
used to be dropped without a word: the file it names was claimed afresh, and read again from its
start by an input whose patterns match it.

Real `shipper run`, real signals, NDJSON output; the entry is made from a real file."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from shipper.state.checkpoints import VERSION, CheckpointStore
from tests.helpers.daemon import DaemonProcess, wait_for
from tests.unit.test_checkpoint_h10_entry_values import _config, _line, _save_entry, _start, _written

REFUSED = ("is damaged (an entry of the files it read to their end, \"finished\", is not [dev, ino, fingerprint, "
           "length]: edited by hand?)")
DAMAGED = {"ino-string": lambda dev, ino: [dev, str(ino), "0" * 32, 10], "short": lambda dev, ino: [dev, ino],
           "fp-not-a-fingerprint": lambda dev, ino: [dev, ino, "abc", 10], "not-a-list": lambda dev, ino: "x"}


def _damage(tmp_path: Path, log: Path, case: str) -> Path:
    """Input ``log.stem``'s checkpoint (one file entry for ``log``) with a damaged entry in ``finished``."""
    path = _save_entry(tmp_path, log)
    saved = json.loads(path.read_text())
    gone = os.stat(tmp_path)  # (a file it let go of: any inode)
    saved["state"]["finished"] = [DAMAGED[case](gone.st_dev, gone.st_ino)]
    path.write_text(json.dumps(saved))
    return path


@pytest.mark.parametrize("case", DAMAGED)
def test_a_start_with_a_damaged_finished_entry_stops_with_exit_3(tmp_path: Path, case: str) -> None:
    b = tmp_path / "b.log"
    b.write_text(_line("b", 0) + _line("b", 1))
    _damage(tmp_path, b, case)
    code, said = _start(tmp_path, [b])
    assert code == 3, said
    assert f"the checkpoint of the input reading {b} {REFUSED}" in said, said
    assert "move that input's file in STATE_DIR/checkpoints/ away" in said and "this is a bug" not in said, said
    assert _written(tmp_path / "out.ndjson") == []


def test_a_reload_with_a_damaged_finished_entry_is_refused_and_the_old_configuration_goes_on(tmp_path: Path) -> None:
    a, b, out = tmp_path / "a.log", tmp_path / "b.log", tmp_path / "out.ndjson"
    a.write_text(_line("a", 0))
    b.write_text(_line("b", 0) + _line("b", 1))
    with DaemonProcess(_config(tmp_path, [a]), tmp_path / "stderr.txt") as daemon:
        wait_for(lambda: _written(out) == ["a 0"], 60, "a.log's first line shipped")
        _damage(tmp_path, b, "ino-string")
        _config(tmp_path, [a, b])
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: "not reloading" in daemon.output() or "reloaded" in daemon.output(), 60, "the reload")
        said = daemon.output()
        assert f"not reloading {tmp_path / 'shipper.yml'}: the checkpoint of the input reading {b} {REFUSED}" in said
        with open(a, "a") as f:
            f.write(_line("a", 1))
        wait_for(lambda: "a 1" in _written(out), 60, "a new line of a.log, on the old configuration")
        assert daemon.stop() == 0, daemon.output()
    assert sorted(_written(out)) == ["a 0", "a 1"]
    assert json.loads(CheckpointStore(tmp_path / "state").path("file-b").read_text())["version"] == VERSION
