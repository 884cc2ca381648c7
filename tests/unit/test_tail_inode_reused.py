"""A file shipped to its end, removed while shipper was stopped, its inode reused by a new file of
the input (``rm a.log; echo … > c.log``): the next start said a.log "was truncated or rewritten
(copytruncate?) after shipper had read 0 bytes of it; lines … may be missing", and shipped a
`shipper.gap` event (found by a tester). Nothing was missing: c.log is a new file, read whole."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers.daemon import DaemonProcess, wait_for
from tests.unit.test_daemon_h4_claims_restart import config, lines, settled, shipped, stop


def test_a_removed_file_s_inode_reused_by_a_new_file_is_no_gap(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    a, c = logs / "a.log", logs / "c.log"
    a.write_text(lines(0, 5))
    inode = a.stat().st_ino
    cfg = config(tmp_path, [{"type": "file", "paths": [str(logs / "*.log")], "flush_after": "100ms"}])
    with DaemonProcess(cfg, tmp_path / "stderr1.txt") as daemon:
        wait_for(lambda: settled(tmp_path, 5), 60, "a.log shipped")
        stop(daemon)
    a.unlink()
    c.write_text(lines(100, 1, tag="other"))
    if c.stat().st_ino != inode:
        pytest.skip("the file system did not give the removed file's inode to the new one")
    with DaemonProcess(cfg, tmp_path / "stderr2.txt") as daemon:
        wait_for(lambda: settled(tmp_path, 6), 60, "c.log shipped")
        said = stop(daemon)
    assert sorted(shipped(tmp_path).values()) == [1] * 6  # every line once
    assert "truncated or rewritten" not in said and "copytruncate" not in said, said
    assert not any("shipper.gap" in line for line in (tmp_path / "out.ndjson").read_text().splitlines())
    assert os.path.exists(c)
