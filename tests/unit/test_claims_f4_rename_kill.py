"""A file renamed to a name only another input matches, then shipper killed (SIGKILL) before the
reading input's checkpoint was saved again (nothing new was acknowledged: it still names the file
by its old name): after the restart the file stays with the input that read it, found by its
inode (`Claims.restore`, `Claims.locate`), and is read on from its checkpoint, not again from its
start by the other input. Real `shipper run`, NDJSON output, every line counted once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson

from shipper.state.checkpoints import CheckpointStore
from tests.helpers.daemon import DaemonProcess, wait_for
from tests.unit.test_daemon_h4_claims_restart import config, lines, settled, shipped, stop


def _paths(tmp_path: Path, key: str) -> set[str]:
    state = orjson.loads(CheckpointStore(tmp_path / "state").path(key).read_bytes())["state"]
    return {f["path"] for f in state["files"]}


def test_a_renamed_file_is_not_read_again_after_a_kill_before_its_checkpoint_names_it(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    mail, old = logs / "maillog", logs / "old.log"
    mail.write_text(lines(0, 20))
    inputs = [{"type": "file", "name": n, "paths": [str(logs / p)], "flush_after": "100ms", "scan_interval": "200ms"}
              for n, p in (("mail", "maillog*"), ("all", "*.log"))]
    cfg = config(tmp_path, inputs)
    err = tmp_path / "stderr1.txt"
    with DaemonProcess(cfg, err) as daemon:
        wait_for(lambda: settled(tmp_path, 20) and _paths(tmp_path, "file-mail") == {str(mail)}, 60,
                 "the 20 lines shipped and checkpointed")
        mail.rename(old)
        wait_for(lambda: f"{old} is read by the input mail" in err.read_text(), 60, "the rename followed")
        assert _paths(tmp_path, "file-mail") == {str(mail)}  # (nothing new acknowledged: not saved since)
        daemon.kill()
    with DaemonProcess(cfg, tmp_path / "stderr2.txt") as daemon:
        with old.open("a") as f:
            f.write(lines(20, 5))
        wait_for(lambda: settled(tmp_path, 25), 60, "the 5 new lines shipped")
        stop(daemon)
    got = shipped(tmp_path)
    assert got == Counter(f"line {i}" for i in range(25)), got
    assert _paths(tmp_path, "file-mail") == {str(old)}
