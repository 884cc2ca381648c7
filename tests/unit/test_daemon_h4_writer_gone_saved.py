"""A journal writer whose files are all gone (read to their end and acknowledged) leaves the input's
checkpoint when the follower forgets it, not at the next acknowledgement: a journal-remote directory
whose other hosts write nothing meanwhile, then a stop, must not report a gap for it at the next start
(its last file was online, so its saved position was not settled: the start took it for a writer
vacuumed while shipper was stopped)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.daemon import DaemonProcess, LiveJournal, wait_for
from tests.helpers.journal import make_journal
from tests.unit.test_run_delivered_kept import app, checkpoint, config, host, needs_journal, settled, shipped


@needs_journal
def test_a_gone_writer_is_saved_at_once_and_the_restart_reports_no_gap(tmp_path: Path) -> None:
    pytest.importorskip("systemd.journal", reason="systemd-python is not installed")
    j = tmp_path / "journal"
    b = make_journal(j, host("hostb", "b", 5), name="remote-hostb")
    with LiveJournal(j) as live:
        live.write(app(5))
        wait_for(lambda: len(list(j.glob("*.journal"))) == 2, 30, "host A's journal file")
        with DaemonProcess(config(tmp_path), tmp_path / "stderr1.txt") as daemon:
            wait_for(lambda: settled(tmp_path, 10), 90, "both hosts shipped")
            wait_for(lambda: len(checkpoint(tmp_path)[1].get("delivered", {})) == 2, 30, "both positions saved")
            assert not all(w["settled"] for w in checkpoint(tmp_path)[1]["writers"].values())  # (else no gap either way)
            b.unlink()  # nothing more is written: no acknowledgement comes after this
            wait_for(lambda: len(checkpoint(tmp_path)[1]["writers"]) == 1, 30,
                     "host B's writer left out of the saved checkpoint without a further acknowledgement")
            assert daemon.stop() == 0, daemon.output()
        _, state = checkpoint(tmp_path)
        assert len(state["writers"]) == 1 and len(state["delivered"]) == 1, state
        with DaemonProcess(config(tmp_path), tmp_path / "stderr2.txt") as again:
            live.write(app(5, 5))
            wait_for(lambda: settled(tmp_path, 15), 90, "host A's new entries shipped after the restart")
            assert again.stop() == 0, again.output()
    said = again.output()
    assert "no longer holds the files" not in said, said
    got = shipped(tmp_path)
    assert not [m for m in got if "shipper.gap" in m], got
    assert sorted(got) == sorted({*got}) and len(got) == 15
