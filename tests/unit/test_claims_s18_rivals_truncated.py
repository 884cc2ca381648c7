"""A file two checkpoints hold ("rivals", `Claims.rivals`: a kill -9 in the middle of a hand-over),
truncated and written anew while shipper was stopped: reported once, as the single checkpoint's
case reports it, after the furthest any checkpoint says was shipped; its new content is read once.

It used to be reported by each input whose checkpoint held it, each from its own position (the
holder's the older one: "after shipper had shipped 360 bytes", of 550 shipped): the rivals were
settled only after the truncation had made the file unknown by its inode, and the fingerprints of
different lengths (a small file) were compared by a file that no longer held either.

Real `shipper run` processes, SIGTERM, real files; the kill -9 is made as in `test_claims_s17_rivals`."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.helpers.daemon import DaemonProcess, wait_for
from tests.unit.test_claims_s17_rivals import _handed_over_then_killed, _paths, _settle_and_stop
from tests.unit.test_daemon_h4_claims_restart import config, lines, settled, shipped


@pytest.mark.parametrize("rival", ["configured", "removed"])
def test_a_file_two_checkpoints_hold_truncated_while_stopped_is_reported_once(tmp_path: Path, rival: str) -> None:
    app, a, b = _handed_over_then_killed(tmp_path)  # ("a"'s checkpoint holds a.log at byte 360, "b"'s at 550)
    app.write_text(lines(100, 3, "new"))  # (truncated and written anew while shipper was stopped)
    with DaemonProcess(config(tmp_path, [a, b] if rival == "configured" else [a]), tmp_path / "stderr3.txt") as daemon:
        wait_for(lambda: settled(tmp_path, 19), 60, "the new content and the gap shipped")
        said = _settle_and_stop(tmp_path, daemon)
    got = shipped(tmp_path)
    gaps = [m for m in got if m.startswith("shipper.gap: ")]
    assert len(gaps) == 1 and "after shipper had shipped 550 bytes of it" in gaps[0], (gaps, said)
    assert said.count("was truncated or rewritten") == 1, said
    assert got - Counter(gaps) == Counter([f"line {i}" for i in range(15)] + [f"line {i}" for i in range(100, 103)]), got
    assert _paths(tmp_path, "file-a") == [str(app)], said
    assert _paths(tmp_path, "file-b") == ([] if rival == "configured" else None), said
