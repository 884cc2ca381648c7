"""At a stop (SIGTERM), the line a parser holds back (the file's last line: the next one could
continue it) is shipped, and the checkpoint passes it: a file rotated away and deleted before the
next start loses nothing, and no gap is reported. A line continuing it, written after the stop,
is an event of its own at the next start, and the held line is not shipped twice."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.helpers.daemon import DaemonProcess, read_status, wait_for, write_config

LINES = [f"Aug 30 15:00:0{i} gorp app[{i}]: line {i}\n" for i in range(3)]


def _config(tmp_path: Path, log: Path, out: Path) -> Path:
    return write_config(tmp_path / "shipper.yml", {
        "state_dir": str(tmp_path / "state"),
        "inputs": [{"type": "file", "paths": [str(log)], "flush_after": "1h"}],  # (held until the stop)
        "output": {"ndjson": {"path": str(out)}}, "parse": {"timezone": "UTC"},
        "run": {"batch_wait": "50ms", "status_interval": "100ms", "stop_timeout": "5s"}})


def _shipped(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []


def _run_until_shipped(config: Path, state: Path, stderr: Path, n: int) -> str:
    with DaemonProcess(config, stderr) as daemon:
        wait_for(lambda: read_status(state).get("shipped") == n and read_status(state).get("state") == "running",
                 60, f"{n} events shipped")
        assert daemon.stop() == 0, daemon.output()
        return daemon.output()


def test_the_held_last_line_is_shipped_at_a_stop_and_survives_the_file(tmp_path: Path) -> None:
    log, out, state = tmp_path / "x.log", tmp_path / "out.ndjson", tmp_path / "state"
    log.write_text("".join(LINES))
    config = _config(tmp_path, log, out)
    _run_until_shipped(config, state, tmp_path / "stderr1.txt", len(LINES) - 1)  # (the last one held)
    assert [d["message"] for d in _shipped(out)] == ["line 0", "line 1", "line 2"]
    log.unlink()  # rotated away and deleted while shipper is stopped
    said = _run_until_shipped(config, state, tmp_path / "stderr2.txt", 0)
    assert "removed or replaced" not in said and "gap" not in said, said
    assert [d["message"] for d in _shipped(out)] == ["line 0", "line 1", "line 2"]


def test_a_line_continuing_the_held_one_after_a_restart_is_its_own_event(tmp_path: Path) -> None:
    log, out, state = tmp_path / "x.log", tmp_path / "out.ndjson", tmp_path / "state"
    log.write_text("".join(LINES))
    config = _config(tmp_path, log, out)
    _run_until_shipped(config, state, tmp_path / "stderr1.txt", len(LINES) - 1)
    with log.open("a") as f:
        f.write("  continued after the stop\n" + "Aug 30 15:00:09 gorp app[9]: after\n")
    _run_until_shipped(config, state, tmp_path / "stderr2.txt", 1)  # (the continuation; "after" held)
    docs = _shipped(out)
    assert [d["message"] for d in docs] == ["line 0", "line 1", "line 2", "  continued after the stop", "after"]
    assert len({d["event"]["id"] for d in docs}) == len(docs)
