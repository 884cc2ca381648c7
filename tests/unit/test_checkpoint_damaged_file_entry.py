"""A checkpoint that is valid JSON of this version but whose file entry lacks a field (edited by
hand) stopped `shipper run` with a KeyError traceback; it is now the damaged-checkpoint error,
naming the input and what to do."""

from __future__ import annotations

from pathlib import Path

import orjson

from shipper.state.checkpoints import VERSION, CheckpointStore
from tests.helpers.daemon import DaemonProcess, write_config


def test_a_file_entry_without_its_fields_is_a_damaged_checkpoint(tmp_path: Path) -> None:
    log, out = tmp_path / "a.log", tmp_path / "out.ndjson"
    log.write_text("Aug 30 15:00:00 gorp app[1]: a line\n")
    cfg = write_config(tmp_path / "shipper.yml", {
        "state_dir": str(tmp_path / "state"), "inputs": [{"type": "file", "paths": [str(log)], "name": "a"}],
        "output": {"ndjson": {"path": str(out)}}, "parse": {"timezone": "UTC", "year": 2017}})
    checkpoint = CheckpointStore(tmp_path / "state").path("file-a")
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(orjson.dumps({"version": VERSION, "state": {"files": [{"path": str(log)}]}}))
    with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
        assert daemon.proc is not None
        code = daemon.proc.wait(60)
        said = daemon.output()
    assert code != 0, said
    assert "Traceback" not in said and "KeyError" not in said, said
    assert f"the checkpoint of the input reading {log} is damaged" in said, said
    assert "STATE_DIR/checkpoints/ away" in said, said
