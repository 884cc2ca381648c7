"""A file two checkpoints hold ("rivals": a kill -9 in the middle of a hand-over, `Claims.rivals`),
read on by a configured input from the other checkpoint's further position, is read on as a
hand-over reads it (session 18): from where that checkpoint resumes (the lines of the last 16
seconds read again, not shipped again, so that the next lines get the ids a replay gives them),
with the linking fence of that checkpoint's stream (the lines read again are not linked again).

It used to read on from the acknowledged offset itself: a line in the same second as lines shipped
before got an event id already taken (in Elasticsearch, a document lost as a duplicate ``_id``).

Real `shipper run` processes, SIGTERM, real files; the output is NDJSON. The kill -9 is made as in
`test_claims_s17_rivals`: the handing input's checkpoint put back as it was before the hand-over."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shipper.state.checkpoints import CheckpointStore
from tests.helpers.daemon import DaemonProcess, wait_for, write_config
from tests.unit.test_linkstate_restart import FAILED, SYSERR, _append, _links, _replayed, _saved_fences, _shipped


def _input(name: str, pattern: Path) -> dict[str, Any]:
    return {"type": "file", "paths": [str(pattern)], "name": name, "flush_after": "200ms", "scan_interval": "200ms"}


def _config(tmp_path: Path, inputs: list[dict[str, Any]]) -> Path:
    return write_config(tmp_path / "shipper.yml", {
        "state_dir": str(tmp_path / "state"), "output": {"ndjson": {"path": str(tmp_path / "out.ndjson")}},
        "inputs": inputs, "parse": {"timezone": "UTC", "year": 2024},
        "run": {"batch_wait": "100ms", "status_interval": "200ms"}})


def _shipped_and_linked(tmp_path: Path, daemon: DaemonProcess, mail: Path, n: int) -> None:
    wait_for(lambda: len(_shipped(tmp_path)) >= n, 60, f"{n} lines shipped")
    wait_for(lambda: _saved_fences(tmp_path) >= {mail.stat().st_size}, 60, "the linking state saved")
    assert daemon.stop() == 0, daemon.output()


@pytest.mark.parametrize("rival", ["configured", "removed"])
def test_a_file_read_on_from_a_rival_checkpoint_gets_the_ids_and_links_of_replay(tmp_path: Path, rival: str) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    mail = logs / "maillog"
    mail.write_text(SYSERR.format(s=0) * 3)  # (one second: the ids count the lines of it)
    a, b = _input("mail", logs / "mail*"), _input("all", logs / "*log")
    with DaemonProcess(_config(tmp_path, [a]), tmp_path / "stderr1.txt") as daemon:
        _shipped_and_linked(tmp_path, daemon, mail, 3)
    store = CheckpointStore(tmp_path / "state")
    before = store.path("file-mail").read_bytes()
    with DaemonProcess(_config(tmp_path, [b]), tmp_path / "stderr2.txt") as daemon:  # ("mail" hands it to "all")
        wait_for(lambda: "that other inputs now read are dropped from it" in daemon.output(), 60, "the hand-over")
        _append(mail, SYSERR.format(s=0))
        _shipped_and_linked(tmp_path, daemon, mail, 4)
    store.path("file-mail").write_bytes(before)  # (a kill -9 before it was rewritten without maillog)
    inputs = [a, b] if rival == "configured" else [a]  # ("mail" first: its checkpoint's maillog is read on)
    with DaemonProcess(_config(tmp_path, inputs), tmp_path / "stderr3.txt") as daemon:
        wait_for(lambda: "is in the checkpoint of" in daemon.output(), 60, "the rivals said")
        _append(mail, SYSERR.format(s=0) + FAILED.replace("14:52:00", "14:50:00"))
        wait_for(lambda: len(_shipped(tmp_path)) >= 7, 60, "the lines after the restart shipped")
        assert daemon.stop() == 0, daemon.output()
        said = daemon.output()
    assert "this input reads it on from byte" in said, said
    docs = _shipped(tmp_path)
    ids = [d["event"]["id"] for d in docs]
    assert len(docs) == 7 and len(set(ids)) == 7, [(d["event"]["id"], d["message"][:40]) for d in docs]
    replayed = _replayed(tmp_path, mail)
    assert ids == [d["event"]["id"] for d in replayed]
    assert docs[-1]["rootcause"]["cause"]["count"] == 5, docs[-1]["rootcause"]["cause"]
    assert _links(docs) == _links(replayed)
