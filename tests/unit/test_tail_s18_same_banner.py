"""An application that writes the same banner at each start, into a new file (a new inode put in
place by rename), while shipper is stopped: the new `app.log` begins as the old one did, and was
taken for a copy of the old content (found again elsewhere, as after a move to another file
system): read on from where the old one was shipped to, past the new file's end, so that none of
its lines were shipped, and the log said at every scan that app.log "was truncated; reading the
rest of its old content from" app.log (found by the eighteenth session's second tester; at
1db6d1c too). A plain file shorter than what was shipped of the content it begins with is not a
copy of it: it is read from its start.

Real `shipper run` processes and SIGTERM; the output is NDJSON, its ids compared with `shipper
replay`'s of the new file."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.daemon import DaemonProcess, wait_for, write_config
from tests.unit.test_linkstate_restart import _replayed, _shipped

BANNER = "".join(f"Aug 30 14:00:00 gorp app[7]: config key{i:03d} = the default value of this setting\n"
                 for i in range(20))  # (~1.5 KB: the fingerprint's 1 KiB all banner)


def _lines(minute: int, n: int, tag: str) -> str:
    return "".join(f"Aug 30 14:{minute:02d}:{1 + i // 50:02d} gorp app[7]: {tag} {i}\n" for i in range(n))


def test_a_new_file_beginning_with_the_old_one_s_banner_is_read_from_its_start(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    app = logs / "app.log"
    app.write_text(BANNER + _lines(1, 2000, "old"))
    config = write_config(tmp_path / "shipper.yml", {
        "state_dir": str(tmp_path / "state"), "output": {"ndjson": {"path": str(tmp_path / "out.ndjson")}},
        "inputs": [{"type": "file", "paths": [str(app)], "name": "A", "flush_after": "200ms",
                    "scan_interval": "200ms"}],
        "parse": {"timezone": "UTC", "year": 2024}, "run": {"batch_wait": "100ms", "status_interval": "200ms"}})
    with DaemonProcess(config, tmp_path / "stderr1.txt") as daemon:
        wait_for(lambda: len(_shipped(tmp_path)) == 2020, 60, "the old file shipped")
        assert daemon.stop() == 0, daemon.output()
    new = logs / "app.log.new"
    new.write_text(BANNER + _lines(9, 300, "new"))
    new.rename(app)  # (the old inode is gone; the new one begins with the same banner)
    with DaemonProcess(config, tmp_path / "stderr2.txt") as daemon:
        wait_for(lambda: len(_shipped(tmp_path)) >= 2020 + 320, 60, "the new file shipped")
        assert daemon.stop() == 0, daemon.output()
        said = daemon.output()
    assert "reading the rest of its old content" not in said, said
    shipped = _shipped(tmp_path)[2020:]
    assert sorted(d["event"]["id"] for d in shipped) == sorted(d["event"]["id"] for d in _replayed(tmp_path, app))
