"""`shipper run` with Elasticsearch unreachable keeps its bounds however many files it reads: the
tester's 12 files (`spool_max_bytes: 1MiB`, `queue_events: 1000`) were all read, 118k events held
in memory (147 MB) and 66 MB written to the disk buffer at the stop: each turn read 1 MiB of every
file (and of every input) before it asked whether reading should wait."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.helpers.daemon import DaemonProcess, wait_for, write_config
from tests.unit.test_run_es_outage import status
from tests.unit.test_run_stop_output_down import closed_port

FILES = 12
LINES = 12_000  # 1.2 MB a file: one read of each (`READ_BYTES`, and on to the end of the block it ends in)
LINE_BYTES = 100
QUEUE = 1000


def _logs(directory: Path) -> list[Path]:
    directory.mkdir()
    paths = []
    for n in range(FILES):
        path = directory / f"h{n}.log"
        line = "Aug 30 15:{:02d}:{:02d} host{} app[{}]: line {:06d} "
        text = "".join(line.format(i // 60 % 60, i % 60, n, i, i).ljust(LINE_BYTES - 1, "x") + "\n" for i in range(LINES))
        path.write_text(text)
        paths.append(path)
    return paths


def _read(state: Path) -> int:
    return sum(int(i.get("read", 0)) for i in status(state).get("inputs", {}).values())


@pytest.mark.parametrize("shape", ["one input of 12 files", "12 inputs of a file each"])
def test_reading_pauses_within_one_read_of_the_bounds(tmp_path: Path, shape: str) -> None:
    paths = _logs(tmp_path / "logs")
    if shape.startswith("one"):
        inputs = [{"type": "file", "paths": [str(tmp_path / "logs" / "*.log")], "name": "big"}]
    else:
        inputs = [{"type": "file", "paths": [str(p)], "name": p.stem} for p in paths]
    state = tmp_path / "state"
    cfg = write_config(tmp_path / "shipper.yml", {
        "state_dir": str(state), "inputs": inputs, "parse": {"timezone": "UTC", "year": 2017},
        "output": {"elasticsearch": {"hosts": [f"http://127.0.0.1:{closed_port()}"]}},
        "run": {"spool_max_bytes": "1MiB", "queue_events": QUEUE, "status_interval": "100ms"},
    })
    seen: list[int] = []

    def settled() -> bool:
        seen.append(_read(state))
        return len(seen) > 40 and seen[-1] > 0 and seen[-1] == seen[-40]  # 2 s without reading

    with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
        wait_for(settled, 60, "reading to pause")
        time.sleep(0.3)
        doc = status(state)
        assert daemon.stop() == 0, daemon.output()
    # What the disk buffer holds (~1,800 events in 1 MiB), what waits in memory (`queue_events`,
    # had the output been taken for reachable at first), and one read past them: not 12 reads
    read = seen[-1]
    assert read <= 3 * LINES, (read, FILES * LINES, daemon.output())
    assert doc["queue_events"] <= QUEUE + LINES, doc
