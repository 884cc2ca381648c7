"""Journal-remote files read while Elasticsearch is away, then deleted while shipper runs, then a stop:
what was read goes to the disk buffer, which counts as delivered, so the writers are settled in the
checkpoint and the next start reports no gap (it used to say, for each host, that its files "were
vacuumed or deleted while shipper was not running" and that entries "may be missing": nothing was)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.fakees import FakeES
from tests.helpers.daemon import DaemonProcess, read_status, wait_for, write_config
from tests.helpers.journal import make_journal
from tests.unit.test_run_delivered_kept import host, needs_journal

ENTRIES = 20  # per host



@needs_journal
def test_files_deleted_while_running_are_no_gap_after_a_stop_in_an_outage(tmp_path: Path) -> None:
    pytest.importorskip("systemd.journal", reason="systemd-python is not installed")
    jr, state = tmp_path / "jr", tmp_path / "state"
    files = [make_journal(jr, host(name, boot, ENTRIES), name=f"remote-{name}") for name, boot in (("hosta", "a"), ("hostb", "b"))]
    with FakeES("8.15.3", security=False) as es:
        es.stop()
        cfg = write_config(tmp_path / "shipper.yml", {
            "state_dir": str(state), "inputs": [{"type": "journal", "name": "remote", "path": str(jr)}],
            "parse": {"timezone": "UTC"},
            "output": {"elasticsearch": {"hosts": [es.url], "retry_initial": 0.05, "retry_max": 0.5}},
            "run": {"batch_wait": "50ms", "status_interval": "100ms", "stop_timeout": "1s"}})
        with DaemonProcess(cfg, tmp_path / "stderr1.txt") as daemon:
            wait_for(lambda: read_status(state).get("inputs", {}).get("journal-remote", {}).get("read") == 2 * ENTRIES,
                     60, "every entry read")
            for f in files:
                f.unlink()
            time.sleep(1.5)  # (the files listed again: gone)
            assert daemon.stop() == 0, daemon.output()
        es.start()
        with DaemonProcess(cfg, tmp_path / "stderr2.txt") as again:
            wait_for(lambda: read_status(state).get("spool_bytes") == 0 and read_status(state).get("in_flight_batches") == 0
                     and read_status(state).get("state") == "running", 60, "the disk buffer delivered")
            assert again.stop() == 0, again.output()
        docs = [d for docs in es.cluster.all_docs().values() for d in docs.values()]
    said = again.output()
    assert "no longer holds the files" not in said, said
    assert sorted(d["message"] for d in docs) == sorted(f"{name} {i}" for name in ("hosta", "hostb") for i in range(ENTRIES))
