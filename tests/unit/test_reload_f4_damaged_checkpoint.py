"""SIGHUP on a real `shipper run` whose new configuration adds an input with a damaged checkpoint:
the reload is refused before the running session ends (`Session.check_checkpoints`), the log names
the checkpoint and what to do, and the daemon goes on shipping with the old configuration; once the
checkpoint is moved away, the next SIGHUP takes the new configuration. Also a checkpoint that is
valid JSON of this version but holds a damaged file entry (a hand edit): it was found only when the
new session opened, after the old one had ended, and the daemon stopped, exit 3 (eighteenth
session: `FileFollower.check`)."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import orjson
import pytest

from shipper.state.checkpoints import VERSION, CheckpointStore
from tests.helpers.daemon import DaemonProcess, wait_for, write_config


def _line(tag: str, i: int) -> str:
    return f"Aug 30 15:00:{i:02d} gorp app[{i}]: {tag} {i}\n"


def _written(out: Path) -> list[str]:
    return [orjson.loads(line)["message"] for line in out.read_bytes().splitlines()] if out.exists() else []


def _config(tmp_path: Path, logs: list[Path], out: Path) -> Path:
    inputs: list[dict[str, Any]] = [{"type": "file", "paths": [str(p)], "name": p.stem, "flush_after": "200ms"}
                                    for p in logs]
    return write_config(tmp_path / "shipper.yml", {
        "state_dir": str(tmp_path / "state"), "inputs": inputs, "output": {"ndjson": {"path": str(out)}},
        "parse": {"timezone": "UTC", "year": 2017},
        "run": {"batch_wait": "50ms", "status_interval": "100ms", "stop_timeout": "5s"}})


NOT_JSON = (b'{"version": ', "checkpoint {damaged} is damaged or from another shipper version (move it away to start "
            "this input afresh: ")
DAMAGED_ENTRY = (orjson.dumps({"version": VERSION, "state": {"files": [{"key": "k", "path": "b.log"}]}}),
                 "the checkpoint of the input reading {b} is damaged (a file entry lacks a field or holds a wrong "
                 "value: edited by hand?)")


@pytest.mark.parametrize(("content", "told"), [NOT_JSON, DAMAGED_ENTRY], ids=["not-json", "damaged-entry"])
def test_a_reload_with_a_damaged_checkpoint_is_refused_and_the_old_configuration_goes_on(
        tmp_path: Path, content: bytes, told: str) -> None:
    a, b, out = tmp_path / "a.log", tmp_path / "b.log", tmp_path / "out.ndjson"
    a.write_text(_line("a", 0))
    b.write_text(_line("b", 0))
    cfg = _config(tmp_path, [a], out)
    damaged = CheckpointStore(tmp_path / "state").path("file-b")
    with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
        wait_for(lambda: _written(out) == ["a 0"], 60, "a.log's first line shipped")
        damaged.parent.mkdir(parents=True, exist_ok=True)
        damaged.write_bytes(content)
        _config(tmp_path, [a, b], out)
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: "not reloading" in daemon.output() or not daemon.running(), 60, "the reload refused")
        assert daemon.running(), daemon.output()
        said = daemon.output()
        assert f"not reloading {cfg}: " + told.format(damaged=damaged, b=b) in said, said
        assert "still running on the previous configuration" in said and "reloaded" not in said, said
        assert "shipper: stopped" not in said, said  # the old session did not end
        with open(a, "a") as f:
            f.write(_line("a", 1))
        wait_for(lambda: "a 1" in _written(out), 60, "a new line of a.log, with the old configuration")
        damaged.unlink()
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: "shipper: reloaded" in daemon.output(), 60, "the reload once the checkpoint is gone")
        with open(a, "a") as f:
            f.write(_line("a", 2))
        wait_for(lambda: {"a 2", "b 0"} <= set(_written(out)), 60, "both inputs read with the new configuration")
        assert daemon.stop() == 0, daemon.output()
    assert sorted(_written(out)) == ["a 0", "a 1", "a 2", "b 0"]  # nothing twice, nothing lost
