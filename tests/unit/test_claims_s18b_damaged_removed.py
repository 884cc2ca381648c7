"""The checkpoint of an input no longer configured, damaged while shipper was stopped, cannot hand
its files over at the start: the input whose patterns match them reads them from their start (their
lines shipped again: Elasticsearch stores them once, by id; NDJSON holds them twice). That is kept
(the damaged file cannot say which files it held: holding off "its" files would mean holding off
every new file), but it is no longer silent: the log says so once, naming the checkpoint and what
to do. So it does for a removed input's checkpoint of which only some entries are damaged (a file
entry, an entry of the files it finished): those files are not handed over either.

Real `shipper run`, real files, SIGTERM, NDJSON output."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from shipper.state.checkpoints import CheckpointStore
from tests.helpers.daemon import DaemonProcess, wait_for
from tests.unit.test_daemon_h4_claims_restart import config, lines, settled, shipped, stop


def _input(name: str, pattern: Path) -> dict[str, Any]:
    return {"type": "file", "name": name, "paths": [str(pattern)], "flush_after": "100ms", "scan_interval": "200ms"}


def _handed(tmp_path: Path, damage: str) -> tuple[Counter[str], str, Path]:
    """maillog shipped by input A (5 lines), A's checkpoint damaged (``damage``) while stopped, A
    replaced by B (same pattern), 2 lines more: what was shipped, what B's run said, A's checkpoint."""
    logs = tmp_path / "logs"
    logs.mkdir()
    mail = logs / "maillog"
    mail.write_text(lines(0, 5))
    with DaemonProcess(config(tmp_path, [_input("A", logs / "mail*")]), tmp_path / "stderr1.txt") as daemon:
        wait_for(lambda: settled(tmp_path, 5), 60, "maillog shipped")
        stop(daemon)
    checkpoint = CheckpointStore(tmp_path / "state").path("file-A")
    saved = json.loads(checkpoint.read_text())
    if damage == "cut short":
        checkpoint.write_text(checkpoint.read_text()[:40])
    elif damage == "file entry":
        saved["state"]["files"][0]["offset"] = "x"
        checkpoint.write_text(json.dumps(saved))
    else:  # a finished entry damaged (and the file entry gone, as when A had let go of it)
        saved["state"]["files"] = []
        saved["state"]["finished"] = [[mail.stat().st_dev, str(mail.stat().st_ino), "0" * 32, 10]]
        checkpoint.write_text(json.dumps(saved))
    with mail.open("a") as f:
        f.write(lines(5, 2))
    with DaemonProcess(config(tmp_path, [_input("B", logs / "mail*")]), tmp_path / "stderr2.txt") as daemon:
        wait_for(lambda: settled(tmp_path, 12), 60, "maillog read by B")
        said = stop(daemon)
    return shipped(tmp_path), said, checkpoint


def test_a_removed_inputs_damaged_checkpoint_is_reported_once_and_its_files_read_afresh(tmp_path: Path) -> None:
    got, said, checkpoint = _handed(tmp_path, "cut short")
    assert got == Counter([f"line {i}" for i in range(5)] * 2 + ["line 5", "line 6"]), said
    assert (f"shipper: checkpoint {checkpoint} is damaged or from another shipper version; it is the checkpoint of an "
            "input no longer in the configuration, so the files it held are not handed over: an input whose patterns "
            "match one of them reads it from its start") in said, said
    assert "Fix it, or move it away to let the other inputs read those files afresh" in said, said
    assert said.count(str(checkpoint)) == 1, said


def test_a_removed_inputs_damaged_file_entry_is_reported_once(tmp_path: Path) -> None:
    got, said, _ = _handed(tmp_path, "file entry")
    assert got == Counter([f"line {i}" for i in range(5)] * 2 + ["line 5", "line 6"]), said
    assert ("shipper: the checkpoint file-A (of an input no longer in the configuration: checkpoints/file-A.json in "
            "the state directory) is damaged: 1 of its file entries lack a field or hold a wrong value") in said, said
    assert said.count("checkpoints/file-A.json") == 1, said


def test_a_removed_inputs_damaged_finished_entry_is_reported_once(tmp_path: Path) -> None:
    got, said, _ = _handed(tmp_path, "finished entry")
    assert got == Counter([f"line {i}" for i in range(5)] * 2 + ["line 5", "line 6"]), said
    assert "shipper: the checkpoint file-A (of an input no longer in the configuration" in said, said
    assert said.count("checkpoints/file-A.json") == 1, said
