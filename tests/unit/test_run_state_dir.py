"""The state directory deleted under a running `shipper run`.

Deleting ``state_dir`` (or its lock file) unlinks the file the daemon locked: another shipper could
start on the directory, and the daemon would write on into files that are gone (or make the
directory again beside the other one). It notices within a second, says so naming the directory,
lets the output take what it read, and exits 5 (`ExitCode.OUTPUT`) without writing there again.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest

from shipper.errors import ExitCode, OutputError
from shipper.state.lock import FILENAME, lock_state_dir
from tests.helpers.daemon import DaemonProcess, wait_for, write_config

LINES = 20


def _status(state: Path) -> dict[str, Any]:
    try:
        return orjson.loads((state / "status.json").read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}


def _read(state: Path) -> int:
    return sum(i.get("read", 0) for i in _status(state).get("inputs", {}).values())


def _delete(state: Path, what: str) -> None:
    if what == "directory":
        shutil.rmtree(state)
    else:
        (state / FILENAME).unlink()


@pytest.mark.parametrize("what, said", [("directory", "was deleted"), ("lock file", "lost its lock file (deleted)")])
def test_the_daemon_stops_with_an_error_and_delivers_what_it_read(tmp_path: Path, what: str, said: str) -> None:
    state, out = tmp_path / "state", tmp_path / "out.ndjson"
    log = tmp_path / "messages"
    log.write_text("".join(f"Aug 30 15:00:{i:02d} gorp app[{i}]: line {i}\n" for i in range(LINES)))
    # Batches wait up to ten minutes, and so does an idle file's last line: what was read is still
    # in the daemon when the directory goes.
    cfg = write_config(tmp_path / "shipper.yml", {
        "state_dir": str(state), "inputs": [{"type": "file", "paths": [str(log)], "flush_after": "10m"}],
        "output": {"ndjson": {"path": str(out)}}, "parse": {"timezone": "UTC", "year": 2017},
        "run": {"batch_wait": "10m", "status_interval": "1s", "stop_timeout": "30s"}})
    with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
        wait_for(lambda: _read(state) >= LINES, 60, f"the daemon to read the {LINES} lines")
        assert not out.exists() or out.read_bytes() == b""  # not handed on yet
        _delete(state, what)
        wait_for(lambda: not daemon.running(), 60, "shipper run to stop")
        assert daemon.proc is not None
        code = daemon.proc.returncode
    stderr = daemon.output()
    assert code == ExitCode.OUTPUT, stderr
    assert f"shipper: error: the state directory {state} {said} while shipper was running" in stderr
    assert "no checkpoint was saved" in stderr
    # What it read went to the output on the way out, as on SIGTERM, the last line too, which the
    # parser held (a next line could continue it): a stop ships it as it is (since session 16).
    assert [orjson.loads(line)["message"] for line in out.read_bytes().splitlines()] == [
        f"line {i}" for i in range(LINES)]
    if what == "directory":
        assert not state.exists()  # not made again
    else:
        assert not (state / FILENAME).exists()
        assert _status(state)["state"] == "running"  # the last status before it noticed: none written since


def test_the_lock_tells_what_became_of_its_directory(tmp_path: Path) -> None:
    state = tmp_path / "state"
    lock = lock_state_dir(state)
    try:
        assert lock.lost() is None
        with pytest.raises(OutputError, match="another shipper is already running"):
            lock_state_dir(state)
        (state / FILENAME).unlink()
        assert lock.lost() == "lost its lock file (deleted)"
        other = lock_state_dir(state)  # what a second shipper could do now
        try:
            assert lock.lost() == "has another lock file (deleted and made again, maybe by another shipper)"
        finally:
            other.close()
        shutil.rmtree(state)
        assert lock.lost() == "was deleted"
    finally:
        lock.close()
    assert not os.path.exists(state)
