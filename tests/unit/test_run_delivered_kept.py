"""The acknowledged positions kept beside a journal input's checkpoint (`shipper.daemon.delivered`):
only those of the writers the checkpoint still holds are kept (a journal-remote directory's hosts
come and go), and the one position an earlier version kept for the whole journal is carried over
to its writer, so that the first restart after an upgrade ships nothing twice."""

from __future__ import annotations

import copy
import signal
from pathlib import Path
from typing import Any

import orjson
import pytest

from shipper.daemon.delivered import Delivered
from shipper.sources.journal_header import cursor_number
from tests.helpers.daemon import DaemonProcess, LiveJournal, wait_for, write_config
from tests.helpers.journal import JOURNAL_REMOTE, export_entry, make_journal

needs_journal = pytest.mark.skipif(not JOURNAL_REMOTE.exists(), reason="systemd-journal-remote is not installed")

# A checkpoint as the release before per-writer positions (63ab934) saved it, after shipping 30
# entries of one writer: its one stream's id was the input key, its mark the resume position.
KEY = "journal-tmp_lochelper_up1_journal-0fc75060"
WRITER = "12e96c1a402b4c0c8cd7b0e7c32e905c"
OLD_STATE: dict[str, Any] = {
    "mark": {"cursor": f"s={WRITER};i=e;b=5ea5fc4f82a14186b5332a788ef9435e;m=d59f80;t=557f9b9d88000;x=2365671449e36698",
             "time": "2017-08-30T14:56:00.000000Z"},
    "delivered": {KEY: f"s={WRITER};i=1e;b=5ea5fc4f82a14186b5332a788ef9435e;m=1c9c380;t=557f9bacca400;x=ef4f57ce6502985b"},
}


def test_the_position_of_an_earlier_version_is_its_cursors_writers() -> None:
    delivered, saved = Delivered(), copy.deepcopy(OLD_STATE)
    delivered.load(KEY, saved)
    assert saved == {"mark": OLD_STATE["mark"]}  # the rest is the follower's
    assert delivered.of(KEY, KEY) is None
    assert delivered.of(KEY, f"{KEY}/{WRITER}") == OLD_STATE["delivered"][KEY]
    state = {"writers": {WRITER: {"cursor": None}}, "mark": {}}
    assert delivered.saved(KEY, state)["delivered"] == {f"{KEY}/{WRITER}": OLD_STATE["delivered"][KEY]}


def test_only_the_streams_the_followers_state_holds_keep_a_position() -> None:
    delivered = Delivered()
    delivered.load("file-x", {"delivered": {"file-x/a1-f00": 10, "file-x/b2-f00": 20}})
    delivered.load("journal-y", {"delivered": {"journal-y/s1": "s=s1;i=1", "journal-y/s2": "s=s2;i=1"}})
    assert delivered.saved("file-x", {"files": [{"key": "b2-f00"}]})["delivered"] == {"file-x/b2-f00": 20}
    assert delivered.saved("journal-y", {"writers": {"s2": {}}, "mark": {}})["delivered"] == {"journal-y/s2": "s=s2;i=1"}
    assert delivered.of("file-x", "file-x/a1-f00") is None  # forgotten, not only left out of the file


# -- the daemon -------------------------------------------------------------------------------------------
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "shipper.yml", {
        "state_dir": str(tmp_path / "state"), "inputs": [{"type": "journal", "path": str(tmp_path / "journal")}],
        "output": {"ndjson": {"path": str(tmp_path / "out.ndjson")}},
        "run": {"batch_wait": "100ms", "status_interval": "200ms"}})


def shipped(tmp_path: Path) -> list[str]:
    out = tmp_path / "out.ndjson"
    return [orjson.loads(line)["message"] for line in out.read_bytes().splitlines()] if out.exists() else []


def status(tmp_path: Path) -> dict[str, Any]:
    try:
        return dict(orjson.loads((tmp_path / "state" / "status.json").read_bytes()))
    except (OSError, orjson.JSONDecodeError):
        return {}


def settled(tmp_path: Path, count: int) -> bool:
    st = status(tmp_path)
    return (len(set(shipped(tmp_path))) >= count and st.get("state") == "running"
            and st.get("in_flight_batches") == 0 and st.get("queue_events") == 0)


def checkpoint(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    (path,) = (tmp_path / "state" / "checkpoints").glob("*.json")
    return path, orjson.loads(path.read_bytes())["state"]


def run_until(tmp_path: Path, count: int, log: str) -> None:
    """The daemon from start to SIGTERM, once ``count`` distinct entries are shipped."""
    with DaemonProcess(config(tmp_path), tmp_path / log) as daemon:
        wait_for(lambda: settled(tmp_path, count), 90, f"{count} entries shipped")
        daemon.signal(signal.SIGTERM)
        assert daemon.stop() == 0, daemon.output()


def app(n: int, start: int = 0) -> list[dict[str, str]]:
    return [{"MESSAGE": f"entry {i}", "SYSLOG_IDENTIFIER": "app", "_PID": "7"} for i in range(start, start + n)]


@needs_journal
def test_the_first_restart_after_an_upgrade_ships_nothing_twice(tmp_path: Path) -> None:
    """30 entries shipped, the checkpoint put back as the earlier version saved it (its resume
    position 16 s before the last entry shipped), 10 more written: the restart reads the 16 again
    and ships the 10."""
    pytest.importorskip("systemd.journal", reason="systemd-python is not installed")
    with LiveJournal(tmp_path / "journal") as live:
        live.write(app(30))
        wait_for(live.files, 30, "the journal file")
        run_until(tmp_path, 30, "stderr1.txt")
        path, state = checkpoint(tmp_path)
        ((writer, position),) = state["writers"].items()
        key = path.stem
        last = state["delivered"][f"{key}/{writer}"]
        old = {"mark": {"cursor": position["cursor"], "time": position["time"]}, "delivered": {key: last}}
        path.write_bytes(orjson.dumps({"version": 1, "state": old}, option=orjson.OPT_INDENT_2))
        again = number(last) - number(position["cursor"])
        assert again == 16  # entries the restart reads again (the ids' window)
        live.write(app(10, 30))
        run_until(tmp_path, 40, "stderr2.txt")
    assert shipped(tmp_path) == [f"entry {i}" for i in range(40)]
    assert sum(i.get("read_again", 0) for i in status(tmp_path)["inputs"].values()) == again
    assert list(checkpoint(tmp_path)[1]["delivered"]) == [f"{key}/{writer}"]


def number(cursor: str) -> int:
    found = cursor_number(cursor)
    assert found is not None, cursor
    return found[1]


def host(name: str, boot: str, n: int) -> bytes:
    return b"".join(export_entry({"MESSAGE": f"{name} {i}", "SYSLOG_IDENTIFIER": "app", "_PID": "7",
                                  "_BOOT_ID": boot * 32, "_HOSTNAME": name}, seq=i) for i in range(n))


@needs_journal
def test_a_writer_whose_files_are_gone_keeps_no_position(tmp_path: Path) -> None:
    """Host B's file is vacuumed once shipped: its position leaves the checkpoint with its writer;
    a restart then ships nothing twice."""
    pytest.importorskip("systemd.journal", reason="systemd-python is not installed")
    j = tmp_path / "journal"
    b = make_journal(j, host("hostb", "b", 5), name="remote-hostb")
    with LiveJournal(j) as live:
        live.write(app(5))
        wait_for(lambda: len(list(j.glob("*.journal"))) == 2, 30, "host A's journal file")
        with DaemonProcess(config(tmp_path), tmp_path / "stderr1.txt") as daemon:
            wait_for(lambda: settled(tmp_path, 10), 90, "both hosts shipped")
            wait_for(lambda: len(checkpoint(tmp_path)[1].get("delivered", {})) == 2, 30, "both positions saved")
            b.unlink()
            live.write(app(5, 5))
            wait_for(lambda: settled(tmp_path, 15) and acknowledged(tmp_path) == 10, 60,
                     "host A's new entries shipped and saved, host B's writer forgotten")
            assert daemon.stop() == 0, daemon.output()
        path, state = checkpoint(tmp_path)
        (writer,) = state["writers"]
        assert list(state["delivered"]) == [f"{path.stem}/{writer}"]
        live.write(app(5, 10))
        run_until(tmp_path, 20, "stderr2.txt")
    got = shipped(tmp_path)
    assert sorted(got) == sorted({*got}) and len(got) == 20


def acknowledged(tmp_path: Path) -> int | None:
    """Once the checkpoint holds one writer: its acknowledged sequence number."""
    path, state = checkpoint(tmp_path)
    if len(state["writers"]) != 1:
        return None
    (writer,) = state["writers"]
    position = state.get("delivered", {}).get(f"{path.stem}/{writer}")
    return number(position) if position else None
