"""A file that several inputs' checkpoints hold at a start is read once, from the furthest any of
them says the output acknowledged (`Claims.rivals`, `Claims.left`): real `shipper run` processes,
SIGTERM, NDJSON output (which, unlike Elasticsearch, does not absorb a line shipped twice), every
line counted.

The checkpoints are those a kill -9 leaves while an input removed from the configuration hands its
file over (`Session._hand_over`): the input that took it saved its checkpoint (holding the file, on
from where the removed one was), the removed input's was not rewritten yet. Both writes are atomic,
so that moment is the only one with two checkpoints holding the file; it is made here by putting
back the removed input's checkpoint as it was before the hand-over (a kill -9 in that window is not
reproducible on demand). Then, at the next start:

* both inputs configured again (either first): both read the file (the first from its older
  position: lines shipped twice; the other as "read elsewhere");
* both removed, a third input taking the file: it read from the first checkpoint's position (in
  name order, the older one) and the second checkpoint kept the file;
* the input that handed it over configured again, the one that took it removed: the file stayed
  with the configured input, read from its own older position.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from shipper.state.checkpoints import CheckpointStore
from tests.helpers.daemon import DaemonProcess, wait_for
from tests.unit.test_daemon_h4_claims_restart import config, lines, settled, shipped, stop


def _input(name: str, pattern: Path) -> dict[str, Any]:
    return {"type": "file", "name": name, "paths": [str(pattern)], "flush_after": "100ms", "scan_interval": "200ms"}


def _append(path: Path, first: int, n: int) -> None:
    with path.open("a") as f:
        f.write(lines(first, n))


def _files(tmp_path: Path, key: str) -> list[dict[str, Any]] | None:
    path = CheckpointStore(tmp_path / "state").path(key)
    return list(orjson.loads(path.read_bytes())["state"]["files"]) if path.exists() else None


def _paths(tmp_path: Path, key: str) -> list[str] | None:
    files = _files(tmp_path, key)
    return [f["path"] for f in files] if files is not None else None


def _handed_over_then_killed(tmp_path: Path) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    """a.log read by "a" (10 lines), then by "b" once "a" is removed (5 more lines), with the
    checkpoints a kill -9 in the hand-over leaves: "b"'s holds a.log at byte 550, "a"'s at 360."""
    logs = tmp_path / "logs"
    logs.mkdir()
    app = logs / "a.log"
    app.write_text(lines(0, 10))
    a, b = _input("a", logs / "a*.log"), _input("b", logs / "*.log")
    with DaemonProcess(config(tmp_path, [a, b]), tmp_path / "stderr1.txt") as daemon:
        wait_for(lambda: settled(tmp_path, 10), 60, "the 10 lines shipped")
        stop(daemon)
    store = CheckpointStore(tmp_path / "state")
    before = store.path("file-a").read_bytes()
    with DaemonProcess(config(tmp_path, [b]), tmp_path / "stderr2.txt") as daemon:
        _append(app, 10, 5)
        wait_for(lambda: settled(tmp_path, 15), 60, "the 5 new lines shipped")
        stop(daemon)
    store.path("file-a").write_bytes(before)  # (not rewritten yet when shipper was killed)
    assert [(f["path"], f["shipped"]) for f in _files(tmp_path, "file-a") or []] == [(str(app), 360)]
    assert [(f["path"], f["shipped"]) for f in _files(tmp_path, "file-b") or []] == [(str(app), 550)]
    return app, a, b


def _run(tmp_path: Path, inputs: list[dict[str, Any]], app: Path) -> str:
    """Start with ``inputs``, write 5 more lines, stop once all 20 are shipped (and a little after:
    a second reader of the file would have shipped its lines by then)."""
    with DaemonProcess(config(tmp_path, inputs), tmp_path / "stderr3.txt") as daemon:
        _append(app, 15, 5)
        wait_for(lambda: settled(tmp_path, 20), 60, "the 5 lines written since shipped")
        said = _settle_and_stop(tmp_path, daemon)
    got = shipped(tmp_path)
    assert got == Counter(f"line {i}" for i in range(20)), (got, said)
    return said


def _settle_and_stop(tmp_path: Path, daemon: DaemonProcess) -> str:
    seen = sum(shipped(tmp_path).values())
    try:  # (lines shipped twice come within a few scans: wait for them, up to 2 s)
        wait_for(lambda: sum(shipped(tmp_path).values()) > seen, 2, "a line shipped twice")
    except AssertionError:
        pass
    return stop(daemon)


@pytest.mark.parametrize("a_first", [True, False], ids=["handing-input-first", "taking-input-first"])
def test_two_configured_inputs_checkpoints_holding_a_file_ship_it_once(tmp_path: Path, a_first: bool) -> None:
    app, a, b = _handed_over_then_killed(tmp_path)
    first, other = ("a", "b") if a_first else ("b", "a")
    said = _run(tmp_path, [a, b] if a_first else [b, a], app)
    assert f"{app} is in the checkpoint of the input {other} (" in said, said
    assert "this input reads it on from byte 550" in said, said  # ("b"'s position: the furthest)
    assert _paths(tmp_path, f"file-{first}") == [str(app)] and _paths(tmp_path, f"file-{other}") == [], said
    assert "removed or replaced" not in said and "may be missing" not in said, said


def test_two_removed_inputs_checkpoints_holding_a_file_are_both_cleaned(tmp_path: Path) -> None:
    app, _, _ = _handed_over_then_killed(tmp_path)
    said = _run(tmp_path, [_input("c", app.parent / "?.log")], app)
    for key in ("file-a", "file-b"):
        assert _paths(tmp_path, key) is None, said  # (nothing else was in them: removed)
        assert f"checkpoints/{key}.json is the checkpoint of an input no longer in the configuration" in said, said


def test_a_configured_input_behind_a_removed_inputs_checkpoint_reads_on_from_it(tmp_path: Path) -> None:
    app, a, _ = _handed_over_then_killed(tmp_path)
    said = _run(tmp_path, [a], app)  # ("b", which took a.log further, removed in turn)
    assert f"{app} is in the checkpoint of file-b (an input no longer in the configuration) too" in said, said
    assert "this input reads it on from byte 550" in said, said
    assert _paths(tmp_path, "file-b") is None and _paths(tmp_path, "file-a") == [str(app)], said
