"""An input whose checkpoint holds a file only as an archive it was reading (a.log.1.gz, part-way:
its copies are looked at afresh at a start, so it holds no inode of it) gets it back while the
checkpoint of an input no longer configured holds it further (the input that took it over, read it
to its end, and was removed in turn; a kill -9 before this input's checkpoint was rewritten): it
reads it on from the furthest of the two (here: takes it as read), as for two checkpoints holding
a plain file (`Claims.rivals`), and that checkpoint drops it.

It used to read the archive on from its own older position (found by its content, the other
checkpoint was never asked): every line the other input had shipped since was shipped again,
silently, and that checkpoint kept the file.

Real `shipper run` processes, SIGTERM, a real gzip archive; the kill -9 is made as in
`test_claims_s17_rivals` (this input's checkpoint put back as it was before the hand-over)."""

from __future__ import annotations

import gzip
import os
import time
from pathlib import Path

from shipper.state.checkpoints import CheckpointStore
from tests.helpers.daemon import DaemonProcess, wait_for
from tests.unit.test_claims_s17_rivals import _files, _input, _settle_and_stop
from tests.unit.test_daemon_h4_claims_restart import config, lines, settled, shipped, stop

N = 60000


def test_an_archive_only_holder_behind_a_removed_inputs_checkpoint_reads_on_from_it(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    archive = logs / "a.log.1.gz"
    with gzip.open(archive, "wt") as f:
        f.write(lines(0, N))
    os.utime(archive, (time.time() - 60, time.time() - 60))  # (settled: not being written)
    a, b = _input("a", logs / "a.log*"), _input("b", logs / "*")
    with DaemonProcess(config(tmp_path, [a], batch_events=500), tmp_path / "stderr1.txt") as daemon:
        wait_for(lambda: sum(shipped(tmp_path).values()) >= 2000, 60, "a part of the archive shipped")
        stop(daemon)
    store = CheckpointStore(tmp_path / "state")
    before = store.path("file-a").read_bytes()
    assert [(f["path"], f["done"]) for f in _files(tmp_path, "file-a") or []] == [(str(archive), False)]
    with DaemonProcess(config(tmp_path, [b]), tmp_path / "stderr2.txt") as daemon:  # ("a" hands it to "b")
        wait_for(lambda: settled(tmp_path, N), 120, "the rest of the archive shipped")
        stop(daemon)
    store.path("file-a").write_bytes(before)  # (a kill -9 before it was rewritten without the archive)
    with DaemonProcess(config(tmp_path, [a]), tmp_path / "stderr3.txt") as daemon:
        wait_for(lambda: "shipper: running" in daemon.output(), 60, "the start")
        said = _settle_and_stop(tmp_path, daemon)
    got = shipped(tmp_path)
    assert sum(got.values()) == N and len(got) == N, (sum(got.values()), said)
    assert (f"{archive} is in the checkpoint of file-b (an input no longer in the configuration) too (shipper was "
            "killed while a file was handed from one input to another?); this input takes it as read") in said, said
    assert _files(tmp_path, "file-b") is None, said  # (nothing else was in it: removed)
    assert [(f["path"], f["done"]) for f in _files(tmp_path, "file-a") or []] == [(str(archive), True)], said
