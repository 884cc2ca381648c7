"""The claims of file inputs (`shipper.sources.claims`) hold only files that are there, and an input's
checkpoint says where a file it reads is now.

* A file one input read to its end and let go of is remembered as finished (so that another input
  takes it as read) while some input's patterns match it; once it is deleted, it is forgotten after
  a minute (`Claims.gone_after`), and no longer saved in a checkpoint.
* A file renamed to a name no input matches is read on through its descriptor; its checkpoint
  names the file by its new name (it used to keep the old one, which another file may have now).
"""

from __future__ import annotations

import os
from pathlib import Path

from shipper.sources.claims import Claims
from shipper.sources.tail import FileFollower
from tests.unit.test_tail_claims_overlap import follower, read
from tests.unit.test_tail_files import Clock, append, syslog


def test_a_finished_file_is_forgotten_once_it_is_gone(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text(syslog(3, "old"))
    claims, said, clock = Claims(), list[str](), Clock()
    a = follower([str(tmp_path / "app.lo[g]")], "a", claims, said)
    b = follower([str(tmp_path / "*.log*")], "b", claims, said)
    for f in (a, b):
        f.open(None)
    read([a, b], clock)
    os.rename(log, tmp_path / "app.log.1")
    log.write_text(syslog(2, "new"))
    read([a, b], clock, rounds=12)  # a reads app.log.1 to its end and lets go of it: b takes it as read
    rotated = (tmp_path / "app.log.1").stat()
    assert finished(a, b) == [[rotated.st_dev, rotated.st_ino]]
    read([a, b], clock, rounds=120)  # still there: remembered
    assert finished(a, b) == [[rotated.st_dev, rotated.st_ino]]
    (tmp_path / "app.log.1").unlink()
    read([a, b], clock, rounds=50)
    assert finished(a, b) == [[rotated.st_dev, rotated.st_ino]]  # (not at once: an archive of it may be found later)
    read([a, b], clock, rounds=20)  # a minute and more later
    assert finished(a, b) == []


def finished(*inputs: FileFollower) -> list[list[int]]:
    """The files the inputs' checkpoints remember as finished (device, inode)."""
    return [entry[:2] for f in inputs for entry in f.state().get("finished", [])]


def test_the_checkpoint_names_a_file_renamed_where_no_input_looks_by_its_new_name(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text(syslog(3, "old"))
    claims, said, clock = Claims(), list[str](), Clock()
    a = follower([str(log)], "a", claims, said)
    a.open(None)
    read([a], clock)
    moved = tmp_path / "kept" / "app.txt"
    moved.parent.mkdir()
    os.rename(log, moved)
    append(moved, "Aug 30 14:56:00 gorp app[1]: after the rename\n")
    assert read([a], clock, rounds=2)["a"] == ["Aug 30 14:56:00 gorp app[1]: after the rename"]
    assert [t["path"] for t in a.state()["files"]] == [str(moved)]


def test_a_rotated_file_read_to_its_end_before_a_restart_is_closed_after_it(tmp_path: Path) -> None:
    """It used to stay open (not finished, held by its input) until it grew, also once deleted."""
    log = tmp_path / "app.log"
    log.write_text(syslog(3, "old"))
    clock = Clock()
    a = follower([str(tmp_path / "app.log*")], "a", Claims(), [])
    a.open(None)
    read([a], clock)
    os.rename(log, tmp_path / "app.log.1")  # (stopped before it was idle long enough to be closed)
    saved = a.state()
    [stream] = saved["files"]
    stream["offset"] = stream["shipped"] = stream["size"] = len(syslog(3, "old"))  # (all of it acknowledged)
    again = follower([str(tmp_path / "app.log*")], "a", Claims(), [])
    again.open(saved)
    assert read([again], clock, rounds=10)["a"] == []
    assert [(t["path"], t["done"]) for t in again.state()["files"]] == [(str(tmp_path / "app.log.1"), True)]
