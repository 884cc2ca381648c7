"""A file input's checkpoint whose file entry holds a value of a wrong type or range (a hand edit)
passed the checks (`Tracked.from_json`, which `FileFollower.check` runs before a reload switches)
and then crashed the daemon ("unhashable type: 'list'", "Integer exceeds 64-bit range": exit 1),
had it retry a read at a negative offset forever, never ship the file (``"done": "no"``) or ship a
broken line (an offset of 12.7 read from byte 12). Each is now the damaged-checkpoint refusal: a
reload is refused and the daemon goes on with the old configuration; a start stops with exit 3.
Real daemons, real signals; the undamaged entry the cases are made from is taken as it is."""

from __future__ import annotations

import json
import os
import signal
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import orjson
import pytest

from shipper.sources.fileid import fingerprint
from shipper.state.checkpoints import VERSION, CheckpointStore
from tests.helpers.daemon import DaemonProcess, wait_for, write_config

DAMAGED: dict[str, dict[str, object]] = {
    "ino-list": {"ino": [1]},
    "ino-object": {"ino": {"a": 1}},
    "beyond-64-bits": {"offset": 10**30, "shipped": 10**30, "size": 10**30},
    "offset-negative": {"offset": -100},
    "done-string": {"done": "no"},
    "offset-fraction": {"offset": 12.7},
    "dev-string": {"dev": "abc"},
    "fp-not-a-fingerprint": {"fp": "abc"},
    "updated-not-a-number": {"updated": "nan"},
    "copy-negative": {"copies": [[-1, 5]]},
}
REFUSED = "is damaged (a file entry lacks a field or holds a wrong value: edited by hand?)"


def _line(tag: str, i: int) -> str:
    return f"Aug 30 15:00:{i:02d} gorp app[{i}]: {tag} {i}\n"


def _written(out: Path) -> list[str]:
    return [orjson.loads(line)["message"] for line in out.read_bytes().splitlines()] if out.exists() else []


def _config(tmp_path: Path, logs: list[Path]) -> Path:
    inputs: list[dict[str, Any]] = [{"type": "file", "paths": [str(p)], "name": p.stem, "flush_after": "200ms"}
                                    for p in logs]
    return write_config(tmp_path / "shipper.yml", {
        "state_dir": str(tmp_path / "state"), "inputs": inputs,
        "output": {"ndjson": {"path": str(tmp_path / "out.ndjson")}}, "parse": {"timezone": "UTC", "year": 2017},
        "run": {"batch_wait": "50ms", "status_interval": "100ms", "stop_timeout": "5s"}})


def _save_entry(tmp_path: Path, log: Path, **changed: object) -> Path:
    """Input ``log.stem``'s checkpoint, one file entry for ``log`` (its first line shipped), ``changed``."""
    st, head = os.stat(log), log.read_bytes()
    first = len(_line("b", 0))
    entry = {"key": "k1", "path": str(log), "first_path": str(log), "dev": st.st_dev, "ino": st.st_ino,
             "fp": fingerprint(head), "fp_len": len(head), "offset": first, "shipped": first, "size": len(head),
             "disk": len(head), "updated": st.st_mtime, "done": False, "copies": [], **changed}
    path = CheckpointStore(tmp_path / "state").path(f"file-{log.stem}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": VERSION, "state": {"files": [entry]}}))  # (orjson writes no 10**30)
    return path


@contextmanager
def _reload(tmp_path: Path, **changed: object) -> Iterator[tuple[DaemonProcess, str]]:
    """A daemon running input a (entered: stopped, or killed, when the test ends), then b's
    checkpoint saved with ``changed``, b added, SIGHUP: the daemon and what it said."""
    a, b, out = tmp_path / "a.log", tmp_path / "b.log", tmp_path / "out.ndjson"
    a.write_text(_line("a", 0))
    b.write_text(_line("b", 0) + _line("b", 1))
    daemon = DaemonProcess(_config(tmp_path, [a]), tmp_path / "stderr.txt")
    with daemon:
        wait_for(lambda: _written(out) == ["a 0"], 60, "a.log's first line shipped")
        _save_entry(tmp_path, b, **changed)
        _config(tmp_path, [a, b])
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: any(s in daemon.output() for s in ("not reloading", "reloaded")) or not daemon.running(),
                 60, "the reload taken or refused")
        yield daemon, daemon.output()


def test_the_undamaged_entry_is_taken_and_read_on_from_its_offset(tmp_path: Path) -> None:
    with _reload(tmp_path) as (daemon, said):
        assert "shipper: reloaded" in said, said
        wait_for(lambda: "b 1" in _written(tmp_path / "out.ndjson"), 60, "b.log read on")
        assert daemon.stop() == 0, daemon.output()
    assert sorted(_written(tmp_path / "out.ndjson")) == ["a 0", "b 1"]  # b 0 was shipped before


@pytest.mark.parametrize("case", DAMAGED)
def test_a_reload_with_a_damaged_value_is_refused_and_the_old_configuration_goes_on(tmp_path: Path, case: str) -> None:
    a, b, out = tmp_path / "a.log", tmp_path / "b.log", tmp_path / "out.ndjson"
    with _reload(tmp_path, **DAMAGED[case]) as (daemon, said):
        assert daemon.running(), said
        assert f"not reloading {tmp_path / 'shipper.yml'}: the checkpoint of the input reading {b} {REFUSED}" in said, said
        assert "still running on the previous configuration" in said and "reloaded" not in said, said
        with open(a, "a") as f:
            f.write(_line("a", 1))
        wait_for(lambda: "a 1" in _written(out) or not daemon.running(), 60, "a new line of a.log, on the old configuration")
        assert daemon.stop() == 0, daemon.output()
        said = daemon.output()
    assert "this is a bug" not in said and "cannot read" not in said, said
    assert sorted(_written(out)) == ["a 0", "a 1"]


@pytest.mark.parametrize("case", DAMAGED)
def test_a_start_with_a_damaged_value_stops_with_exit_3_naming_the_checkpoint(tmp_path: Path, case: str) -> None:
    b = tmp_path / "b.log"
    b.write_text(_line("b", 0) + _line("b", 1))
    _save_entry(tmp_path, b, **DAMAGED[case])
    code, said = _start(tmp_path, [b])
    assert code == 3, said
    assert f"the checkpoint of the input reading {b} {REFUSED}" in said, said
    assert "move that input's file in STATE_DIR/checkpoints/ away" in said and "this is a bug" not in said, said
    assert _written(tmp_path / "out.ndjson") == []


def test_a_start_with_a_checkpoint_whose_state_is_no_object_stops_with_exit_3(tmp_path: Path) -> None:
    """(It was taken as no checkpoint: the input started afresh, its file shipped again from the start.)"""
    b = tmp_path / "b.log"
    b.write_text(_line("b", 0))
    checkpoint = _save_entry(tmp_path, b)
    checkpoint.write_text(json.dumps({"version": VERSION, "state": [1, 2]}))
    code, said = _start(tmp_path, [b])
    assert code == 3, said
    assert f"checkpoint {checkpoint} is damaged or from another shipper version" in said, said
    assert "move it away to start this input afresh" in said, said
    assert _written(tmp_path / "out.ndjson") == []


def _start(tmp_path: Path, logs: list[Path]) -> tuple[int, str]:
    """``shipper run`` that is to stop at once: its exit status and what it said."""
    with DaemonProcess(_config(tmp_path, logs), tmp_path / "stderr.txt") as daemon:
        wait_for(lambda: not daemon.running(), 30, "shipper run stopped")
        assert daemon.proc is not None
        return daemon.proc.wait(), daemon.output()
