"""A daemon stopping on an error reports that error, even when stopping fails too: on a full disk,
the NDJSON output fails, then saving the checkpoints at the stop fails, and that second error used
to be the one `shipper run` ended with (its last "error:" line and its exit status)."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.daemon import DaemonProcess, write_config
from tests.helpers.disk import small_disk

LINES = 20_000


def test_the_first_error_is_the_one_reported_and_a_later_one_is_secondary(tmp_path: Path) -> None:
    log = tmp_path / "messages"
    log.write_text("".join(f"Aug 30 15:{i // 60 % 60:02d}:{i % 60:02d} gorp app[{i}]: line {i} {'x' * 60}\n"
                           for i in range(LINES)))
    with small_disk(tmp_path / "disk", "256k") as disk:  # the output and the state directory, on one full disk
        cfg = write_config(tmp_path / "shipper.yml", {
            "state_dir": str(disk / "state"),
            "inputs": [{"type": "file", "paths": [str(log)], "name": "messages"}],
            "parse": {"timezone": "UTC", "year": 2017},
            "output": {"ndjson": {"path": str(disk / "out.ndjson")}},
            "run": {"batch_wait": "10ms", "batch_events": 50},
        })
        with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
            assert daemon.proc is not None
            code = daemon.proc.wait(120)
    said = daemon.output()
    assert code == 5, said
    errors = [line for line in said.splitlines() if line.startswith("shipper: error: ")]
    assert errors == [f"shipper: error: cannot write {disk / 'out.ndjson'}: No space left on device"], said
    assert "make room there, or write elsewhere" in said and "Traceback" not in said
    checkpoint = [line for line in said.splitlines() if "checkpoints" in line]
    assert checkpoint and all(" another one (secondary): cannot write state file " in line for line in checkpoint), said
