"""The checkpoint of an input no longer configured, damaged after the start (a hand edit, a disk
error), cannot be rewritten without a file another input took from it (`drop_taken`): the daemon
says so, naming the checkpoint and what to do, rather than saying nothing (that checkpoint still
holds the file: the input, added back, would take it back from where it left it).

Real `shipper run`, real files, SIGTERM; the file is found by the other input only after the
damage (renamed to a name its pattern matches), so that the hand-over comes after it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from shipper.state.checkpoints import CheckpointStore
from tests.helpers.daemon import DaemonProcess, wait_for
from tests.unit.test_daemon_h4_claims_restart import config, lines, settled, shipped, stop


def _input(name: str, pattern: Path) -> dict[str, Any]:
    return {"type": "file", "name": name, "paths": [str(pattern)], "flush_after": "100ms", "scan_interval": "200ms"}


def test_a_damaged_checkpoint_a_file_is_handed_from_is_reported_with_what_to_do(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    mail = logs / "maillog"
    mail.write_text(lines(0, 5))
    (logs / "other.log").write_text(lines(100, 1, "other"))
    with DaemonProcess(config(tmp_path, [_input("mail", logs / "mail*")]), tmp_path / "stderr1.txt") as daemon:
        wait_for(lambda: settled(tmp_path, 5), 60, "maillog shipped")
        stop(daemon)
    checkpoint = CheckpointStore(tmp_path / "state").path("file-mail")
    with DaemonProcess(config(tmp_path, [_input("all", logs / "*.log")]), tmp_path / "stderr2.txt") as daemon:
        wait_for(lambda: settled(tmp_path, 6), 60, "other.log shipped")
        checkpoint.write_text("{\"version\": 1, \"state\": ")  # (cut short: a disk error, a hand edit)
        mail.rename(logs / "mail.log")  # (now the other input's pattern matches it: handed over)
        with (logs / "mail.log").open("a") as f:
            f.write(lines(5, 2))
        wait_for(lambda: settled(tmp_path, 8), 60, "the 2 new lines shipped")
        said = stop(daemon)
    assert shipped(tmp_path) == Counter([f"line {i}" for i in range(7)] + ["line 100"]), said
    assert (f"shipper: checkpoint {checkpoint} is damaged or from another shipper version; it is the checkpoint of "
            "an input no longer in the configuration, and the file of it that other inputs now read could not be "
            "dropped from it: move it away, or that input, if added back, takes them back") in said, said
    assert said.count(str(checkpoint)) == 1, said
