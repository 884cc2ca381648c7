"""`shipper run` with Elasticsearch unreachable: the disk buffer stops at run.spool_max_bytes. The
tester saw 3.3 MiB in a 2 MiB buffer: the turn that filled it was written whole."""

from __future__ import annotations

import time
from pathlib import Path

from tests.helpers.daemon import DaemonProcess, wait_for, write_config
from tests.unit.test_run_stop_output_down import closed_port

BOUND = 1 << 20


def on_disk(spool: Path) -> int:
    total = 0
    for segment in spool.glob("*.seg"):
        try:
            total += segment.stat().st_size
        except FileNotFoundError:
            pass  # read and deleted meanwhile
    return total


def test_the_disk_buffer_stays_under_its_bound_while_the_output_is_down(tmp_path: Path) -> None:
    log = tmp_path / "messages"
    with log.open("w") as f:  # about 6 MiB of lines, 4-5 times the bound once encoded
        f.writelines(f"Aug 30 15:{i // 60 % 60:02d}:{i % 60:02d} gorp app[{i}]: line {i} {'x' * 40}\n"
                     for i in range(80_000))
    state = tmp_path / "state"
    cfg = write_config(tmp_path / "shipper.yml", {
        "state_dir": str(state),
        "inputs": [{"type": "file", "paths": [str(log)], "name": "messages"}],
        "parse": {"timezone": "UTC", "year": 2017},
        "output": {"elasticsearch": {"hosts": [f"http://127.0.0.1:{closed_port()}"]}},
        "run": {"spool_max_bytes": "1MiB", "batch_wait": "50ms", "status_interval": "100ms"},
    })
    sizes: list[int] = []

    def settled() -> bool:
        sizes.append(on_disk(state / "spool"))
        return len(sizes) > 40 and sizes[-1] > BOUND // 2 and sizes[-1] == sizes[-40]  # 2 s without growth

    with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
        wait_for(settled, 60, "the disk buffer to fill and reading to pause")
        time.sleep(0.5)
        sizes.append(on_disk(state / "spool"))
        assert daemon.stop() == 0, daemon.output()
    assert max(sizes) <= BOUND, (max(sizes), daemon.output())
    # it did fill: below the bound by at most the record the output holds for its retry, and the
    # unused ends of the segments (a record does not straddle two: SEGMENT_BYTES is bound // 8)
    assert max(sizes) > BOUND * 3 // 4
