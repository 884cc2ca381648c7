"""An input removed from the configuration (SIGHUP) hands its file to another input that matches
it; added back later (SIGHUP again), it must not take that file back from where its old checkpoint
left it: the lines the other input shipped meanwhile would be shipped again. The removed input's
checkpoint drops the files other inputs took (`Claims.handed_over`, `Session._hand_over`) and
keeps the others, which the input, added back, reads on from where it was. Real `shipper run`,
real signals, NDJSON output, every line counted once."""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from shipper.state.checkpoints import CheckpointStore
from tests.helpers.daemon import DaemonProcess, wait_for
from tests.unit.test_daemon_h4_claims_restart import config, lines, settled, shipped, stop


def _input(name: str, pattern: Path) -> dict[str, Any]:
    return {"type": "file", "name": name, "paths": [str(pattern)], "flush_after": "100ms", "scan_interval": "200ms"}


def _append(path: Path, first: int, n: int, tag: str = "app") -> None:
    with path.open("a") as f:
        f.write(lines(first, n, tag))


def _paths(tmp_path: Path, key: str) -> set[str] | None:
    path = CheckpointStore(tmp_path / "state").path(key)
    return {f["path"] for f in orjson.loads(path.read_bytes())["state"]["files"]} if path.exists() else None


def _reload(tmp_path: Path, daemon: DaemonProcess, inputs: list[dict[str, Any]], nth: int) -> None:
    config(tmp_path, inputs, stop_timeout="5s")
    daemon.signal(signal.SIGHUP)
    wait_for(lambda: daemon.output().count("shipper: reloaded") >= nth, 60, f"reload {nth}")


def test_an_input_added_back_does_not_read_again_what_another_took_over(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    app, own = logs / "a.log", logs / "a-own.log"  # both read by the input "a"; a.log matched by "b" too
    app.write_text(lines(0, 10))
    own.write_text(lines(100, 3, "own"))
    first, other = _input("a", logs / "a*.log"), _input("b", logs / "?.log")
    with DaemonProcess(config(tmp_path, [first, other], stop_timeout="5s"), tmp_path / "stderr.txt") as daemon:
        wait_for(lambda: settled(tmp_path, 13), 60, "the 13 lines shipped")
        _reload(tmp_path, daemon, [other], 1)  # a.log is now read by "b", from where "a" left it
        _append(app, 10, 5)
        _append(own, 103, 2, "own")  # (read by no input now)
        wait_for(lambda: settled(tmp_path, 18), 60, "the 5 new lines shipped")
        assert _paths(tmp_path, "file-a") == {str(own)}  # (a.log dropped from the removed input's checkpoint)
        _reload(tmp_path, daemon, [first, other], 2)  # "a" is back, first in the configuration
        _append(app, 15, 5)
        wait_for(lambda: settled(tmp_path, 25), 60, "the lines written since shipped")
        said = stop(daemon)
    got = shipped(tmp_path)
    assert got == Counter([f"line {i}" for i in range(20)] + [f"line {i}" for i in range(100, 105)]), got
    assert f"{app} is read by the input b" in said, said  # ("a", back, skips it)
    assert "no longer in the configuration; the files of it that other inputs now read are dropped" in said, said
    assert "removed or replaced" not in said and "may be missing" not in said, said


def test_a_removed_input_whose_files_are_all_taken_loses_its_checkpoint(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    app = logs / "a.log"
    app.write_text(lines(0, 10))
    first, other = _input("a", logs / "a*.log"), _input("b", logs / "*.log")
    with DaemonProcess(config(tmp_path, [first, other], stop_timeout="5s"), tmp_path / "stderr.txt") as daemon:
        wait_for(lambda: settled(tmp_path, 10), 60, "the 10 lines shipped")
        _reload(tmp_path, daemon, [other], 1)
        _append(app, 10, 5)
        wait_for(lambda: settled(tmp_path, 15), 60, "the 5 new lines shipped")
        assert _paths(tmp_path, "file-a") is None  # (the removed input's checkpoint: nothing left in it)
        _reload(tmp_path, daemon, [first, other], 2)
        _append(app, 15, 5)
        wait_for(lambda: settled(tmp_path, 20), 60, "the lines written since shipped")
        said = stop(daemon)
    got = shipped(tmp_path)
    assert got == Counter(f"line {i}" for i in range(20)), got
    assert "(nothing else was in it: removed)" in said, said
