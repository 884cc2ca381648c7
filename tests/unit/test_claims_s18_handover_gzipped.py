"""A rotated file compressed after the input reading it last saved its checkpoint (``app.log-1`` ->
``app.log-1.gz``: that checkpoint holds only the plain file's inode, gone now), then handed to
another input (the input removed, one with the same pattern added: by a reload, or at a start
after the compression was done while shipper was stopped), is recognised by its first bytes, as
the input itself recognises it (`FileFollower._discover`): the new input reads it on from where
the old one's checkpoint left it (here: nothing more to ship), and that checkpoint drops it.

It used to be read as a file never seen: every line of it was shipped a second time (same ids:
in Elasticsearch, documents overwritten and failures linked twice, their cause counted twice),
and the old checkpoint kept the plain file for good.

Real `shipper run` processes, SIGHUP and SIGTERM, real gzip; the output is NDJSON, its ids
compared with `shipper replay`'s of the same files."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from shipper.state.checkpoints import CheckpointStore
from tests.helpers.daemon import DaemonProcess, read_status, wait_for, write_config
from tests.unit.test_claims_s17_rivals import _files
from tests.unit.test_linkstate_restart import FAILED, SYSERR, _links, _replayed, _shipped

ROTATED, LIVE = 6000, 500


def _lines(minute: int, n: int) -> str:
    """``n`` lines from second 1 of 14:``minute``, 200 a second, each message 4 times in its second
    (the ids count twins: read on from a wrong place, they differ from a replay's)."""
    return "".join(f"Aug 30 14:{minute:02d}:{1 + i // 200:02d} gorp app[7]: step {i % 50} done\n" for i in range(n))


def _config(tmp_path: Path, name: str, logs: Path, **run: Any) -> Path:
    return write_config(tmp_path / "shipper.yml", {
        "state_dir": str(tmp_path / "state"), "output": {"ndjson": {"path": str(tmp_path / "out.ndjson")}},
        "inputs": [{"type": "file", "paths": [str(logs / "app.log*")], "name": name, "flush_after": "200ms",
                    "scan_interval": "200ms"}],
        "parse": {"timezone": "UTC", "year": 2024}, "run": {"batch_wait": "100ms", "status_interval": "200ms", **run}})


def _settled(tmp_path: Path, n: int) -> bool:
    st = read_status(tmp_path / "state")
    return (len(_shipped(tmp_path)) >= n and st.get("state") == "running" and st.get("in_flight_batches") == 0
            and st.get("queue_events") == 0)


def _a_ships(tmp_path: Path, logs: Path, app: Path) -> None:
    """Input A started on ``app`` (a SYSERR and `ROTATED` lines) until all is shipped, and stopped."""
    app.write_text(SYSERR.format(s=0) + _lines(50, ROTATED))
    with DaemonProcess(_config(tmp_path, "A", logs), tmp_path / "stderr1.txt") as daemon:
        wait_for(lambda: _settled(tmp_path, ROTATED + 1), 60, "app.log shipped")
        assert daemon.stop() == 0, daemon.output()


def _b_ships_as_replay(tmp_path: Path, logs: Path, n: int, *files: Path) -> str:
    """Input B (A removed) started until the ``n`` lines are shipped, and stopped: each line once,
    with the ids and links `shipper replay` of ``files`` gives; what B said."""
    with DaemonProcess(_config(tmp_path, "B", logs), tmp_path / "stderr2.txt") as daemon:
        wait_for(lambda: _settled(tmp_path, n), 60, "the rest shipped")
        time.sleep(2.0)
        assert daemon.stop() == 0, daemon.output()
        said = daemon.output()
    docs = _shipped(tmp_path)
    ids = [d["event"]["id"] for d in docs]
    assert len(docs) == n and len(set(ids)) == n, (len(docs), len(set(ids)), said)
    replayed = _replayed(tmp_path, *files)
    assert sorted(ids) == sorted(d["event"]["id"] for d in replayed)
    assert _links(docs) == _links(replayed) and len(_links(docs)) == 3, said
    return said


def _saved(tmp_path: Path) -> list[tuple[str, list[Any]]]:
    """The files input A's checkpoint holds (path, copies), once it is no longer rewritten."""
    path = CheckpointStore(tmp_path / "state").path("file-A")
    wait_for(lambda: time.time() - path.stat().st_mtime > 1.5, 30, "A's checkpoint saved for the last time")
    return [(f["path"], f["copies"]) for f in _files(tmp_path, "file-A") or []]


@pytest.mark.parametrize("when", ["reload", "stopped"])
def test_a_rotated_file_gzipped_before_a_hand_over_is_not_shipped_again(tmp_path: Path, when: str) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    app, rotated = logs / "app.log", logs / "app.log-1"
    app.write_text(SYSERR.format(s=0) + _lines(50, ROTATED) + FAILED)
    n = ROTATED + 3
    with DaemonProcess(_config(tmp_path, "A", logs), tmp_path / "stderr1.txt") as daemon:
        wait_for(lambda: _settled(tmp_path, n), 60, "app.log shipped")
        app.rename(rotated)
        app.write_text(_lines(52, LIVE))
        n += LIVE
        wait_for(lambda: _settled(tmp_path, n), 60, "the new app.log shipped")
        assert _saved(tmp_path) == [(str(rotated), []), (str(app), [])]
        if when == "stopped":
            assert daemon.stop() == 0, daemon.output()
        os.utime(rotated, (time.time() - 60, time.time() - 60))  # (gzip keeps it: the archive has settled)
        subprocess.run(["gzip", str(rotated)], check=True)
        _config(tmp_path, "B", logs)
        if when == "reload":
            gz = os.stat(logs / "app.log-1.gz")  # (A finds the archive: its checkpoint is saved, nothing new
            archived = [(str(rotated), [[gz.st_dev, gz.st_ino]]), (str(app), [])]  # to ship: B takes it by inode)
            wait_for(lambda: _saved(tmp_path) == archived, 30, "A's checkpoint saved with the archive")
            daemon.signal(signal.SIGHUP)
            wait_for(lambda: "shipper: reloaded" in daemon.output(), 60, "the reload")
        else:
            daemon.start()
        wait_for(lambda: _settled(tmp_path, n), 60, "B running")
        time.sleep(3.0)  # (B's patterns matched 15 times: an archive read as new is shipped by then)
        assert daemon.stop() == 0, daemon.output()
        said = daemon.output()
    docs = _shipped(tmp_path)
    ids = [d["event"]["id"] for d in docs]
    assert len(docs) == n and len(set(ids)) == n, (len(docs), len(set(ids)), said)
    replayed = _replayed(tmp_path, logs / "app.log-1.gz", app)
    assert sorted(ids) == sorted(d["event"]["id"] for d in replayed)  # (the output's order is not the files')
    assert _links(docs) == _links(replayed)
    assert {d["rootcause"]["cause"]["count"] for d in docs if "cause" in d.get("rootcause", {})} == {1}
    assert not CheckpointStore(tmp_path / "state").path("file-A").exists(), said  # (every file of it handed over)


def test_a_rotated_file_gzipped_part_way_is_read_on_from_the_archive_after_a_hand_over(tmp_path: Path) -> None:
    """Lines written after A's last read (while shipper was stopped), then the file rotated and
    compressed: B reads them from the archive, from where A's checkpoint resumes (its last lines
    read again, not shipped again), each line once, with the ids and links of a replay."""
    logs = tmp_path / "logs"
    logs.mkdir()
    app, rotated = logs / "app.log", logs / "app.log-1"
    _a_ships(tmp_path, logs, app)
    with app.open("a") as f:  # (the same seconds go on: their twins are counted from A's lines)
        f.write(_lines(50, ROTATED)[len(_lines(50, ROTATED - 100)):] + _lines(51, ROTATED) + FAILED)
    app.rename(rotated)
    os.utime(rotated, (time.time() - 60, time.time() - 60))
    subprocess.run(["gzip", str(rotated)], check=True)
    n = 2 * ROTATED + 100 + 3
    said = _b_ships_as_replay(tmp_path, logs, n, logs / "app.log-1.gz")
    assert not CheckpointStore(tmp_path / "state").path("file-A").exists(), said


def test_a_copytruncate_while_stopped_before_a_hand_over_is_read_on_in_the_copy(tmp_path: Path) -> None:
    """The plain case of the same: logrotate's copytruncate while shipper was stopped (``app.log.1``
    a new inode holding A's content and more, ``app.log`` emptied and written again): B reads the
    copy on from where A's checkpoint left it (it read it from its start: A's lines shipped twice)."""
    logs = tmp_path / "logs"
    logs.mkdir()
    app, copy = logs / "app.log", logs / "app.log.1"
    _a_ships(tmp_path, logs, app)
    with app.open("a") as f:
        f.write(_lines(51, LIVE) + FAILED)
    copy.write_bytes(app.read_bytes())
    app.write_text(_lines(52, LIVE))
    n = ROTATED + 1 + LIVE + 2 + LIVE
    _b_ships_as_replay(tmp_path, logs, n, copy, app)
