"""Which file input reads a file two inputs' globs match (`shipper.sources.claims`) is the same after
a restart of `shipper run` (real process, SIGTERM, NDJSON output): each input's checkpoint gives it
back the files it had, and those it read to their end and let go of.

* An input added before the one that reads a file, by a configuration change: the file stays with
  the input that read it (it used to go to the new one, which read it again from its start).
* A file read to its end by one input, then renamed to a name only another input matches, while
  shipper is stopped: the other input takes it as read (it read it again after a restart).
"""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from tests.helpers.daemon import DaemonProcess, read_status, wait_for, write_config


def lines(first: int, n: int, tag: str = "app") -> str:
    return "".join(f"Aug 30 15:00:{i % 60:02d} gorp {tag}[{i}]: line {i}\n" for i in range(first, first + n))


def config(tmp_path: Path, inputs: list[dict[str, Any]], **run: Any) -> Path:
    return write_config(tmp_path / "shipper.yml", {
        "state_dir": str(tmp_path / "state"), "inputs": inputs,
        "parse": {"timezone": "UTC", "year": 2017},
        "output": {"ndjson": {"path": str(tmp_path / "out.ndjson")}},
        "run": {"batch_wait": "50ms", "status_interval": "100ms", **run}})


def shipped(tmp_path: Path) -> Counter[str]:
    out = tmp_path / "out.ndjson"
    return Counter(orjson.loads(line)["message"] for line in out.read_bytes().splitlines()) if out.exists() else Counter()


def status(tmp_path: Path) -> dict[str, Any]:
    return read_status(tmp_path / "state")


def settled(tmp_path: Path, count: int) -> bool:
    st = status(tmp_path)
    return (sum(shipped(tmp_path).values()) >= count and st.get("state") == "running"
            and st.get("in_flight_batches") == 0 and st.get("queue_events") == 0)


def stop(daemon: DaemonProcess) -> str:
    daemon.signal(signal.SIGTERM)
    assert daemon.stop() == 0, daemon.output()
    return daemon.output()


def test_an_input_added_before_the_one_reading_a_file_does_not_take_it_at_the_restart(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    app = logs / "app.log"
    app.write_text(lines(0, 10))
    reader = {"type": "file", "name": "app", "paths": [str(logs / "app*")], "flush_after": "100ms"}
    with DaemonProcess(config(tmp_path, [reader]), tmp_path / "stderr1.txt") as daemon:
        wait_for(lambda: settled(tmp_path, 10), 60, "the 10 lines shipped")
        stop(daemon)
    added = {"type": "file", "name": "all", "paths": [str(logs / "*.log")]}
    with DaemonProcess(config(tmp_path, [added, reader]), tmp_path / "stderr2.txt") as daemon:
        with app.open("a") as f:
            f.write(lines(10, 5))
        wait_for(lambda: settled(tmp_path, 15), 60, "the 5 new lines shipped")
        said = stop(daemon)
    got = shipped(tmp_path)
    assert got == Counter(f"line {i}" for i in range(15)), got
    assert "removed or replaced" not in said and "shipper.gap" not in "".join(got), said
    assert f"{app} is read by the input app" in said, said  # (the new input says it skips it)


def test_a_file_finished_by_one_input_is_not_read_again_by_another_after_a_restart(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    mail = logs / "maillog"
    mail.write_text(lines(0, 10, "mail"))
    inputs = [{"type": "file", "name": "live", "paths": [str(mail)], "flush_after": "100ms"},
              {"type": "file", "name": "rotated", "paths": [str(logs / "*.1")], "scan_interval": "1h"}]
    cfg = config(tmp_path, inputs)
    with DaemonProcess(cfg, tmp_path / "stderr1.txt") as daemon:
        wait_for(lambda: settled(tmp_path, 10), 60, "the 10 lines shipped")
        mail.rename(logs / "maillog.1")  # rotated: read to its end, closed (close_after), let go of
        mail.write_text(lines(10, 3, "mail"))
        wait_for(lambda: settled(tmp_path, 13) and finished(tmp_path, mail.stat().st_ino), 90,
                 "the rotated file let go of by the input that read it (after 30 s idle), and that saved")
        stop(daemon)
    with DaemonProcess(cfg, tmp_path / "stderr2.txt") as daemon:
        with mail.open("a") as f:
            f.write(lines(13, 2, "mail"))
        wait_for(lambda: settled(tmp_path, 15), 60, "the 2 new lines shipped")
        said = stop(daemon)
    got = shipped(tmp_path)
    assert got == Counter(f"line {i}" for i in range(15)), got
    assert "was read to its end by the input live" in said, said


def finished(tmp_path: Path, live: int) -> bool:
    """The live input's checkpoint holds the new file (inode ``live``) only, not the rotated one."""
    path = tmp_path / "state" / "checkpoints" / "file-live.json"
    try:
        files = orjson.loads(path.read_bytes())["state"]["files"]
    except (OSError, orjson.JSONDecodeError, KeyError):
        return False
    return [f["ino"] for f in files] == [live]
