"""The disk buffer on a disk that fills up while Elasticsearch is away: `shipper run` stops with an
error naming the buffer and what to do (exit 5), and nothing it read is lost: once there is room and
Elasticsearch is back, the next start delivers every line, once (the record the disk cut short was
never stored; its checkpoint did not move)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from tests.fakees import FakeES
from tests.helpers.daemon import DaemonProcess, wait_for, write_config
from tests.helpers.disk import small_disk

LINES = 20_000


def line(i: int) -> str:
    return f"Aug 30 15:{i // 2000 % 60:02d}:{i // 40 % 50:02d} gorp app[{i % 1000}]: full disk line {i} " + "x" * 40


def test_a_full_disk_under_the_buffer_stops_shipper_and_the_next_start_delivers_everything(tmp_path: Path) -> None:
    log = tmp_path / "messages"
    log.write_text(line(0) + "\n")
    with small_disk(tmp_path / "disk", "1m") as disk, FakeES("8.15.3", security=False) as es:
        filler = disk / "filler"
        filler.write_bytes(b"f" * (300 << 10))
        cfg = write_config(tmp_path / "shipper.yml", {
            "state_dir": str(disk / "state"),
            "inputs": [{"type": "file", "paths": [str(log)], "name": "messages"}],
            "parse": {"timezone": "UTC", "year": 2017},
            "output": {"elasticsearch": {"hosts": [es.url], "retry_initial": 0.05, "retry_max": 0.5,
                                         "max_held_events": 2000}},
            "run": {"queue_events": 1000, "spool_max_bytes": "8MiB", "batch_wait": "100ms", "stop_timeout": "1s"},
        })

        def count() -> Counter[str]:
            return Counter(d["message"] for docs in es.cluster.all_docs().values() for d in docs.values())

        with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
            wait_for(lambda: sum(count().values()) == 1, 60, "the first line")
            es.stop()  # Elasticsearch goes away: the buffer fills the disk
            with open(log, "a") as f:
                f.write("".join(line(i) + "\n" for i in range(1, LINES)))
            assert daemon.proc is not None
            assert daemon.proc.wait(120) == 5, daemon.output()
        said = daemon.output()
        assert (f"shipper: error: cannot write to the disk buffer in {disk / 'state' / 'spool'}: No space left on device\n"
                "shipper: free space where the state directory is, or lower run.spool_max_bytes\n") in said, said
        assert "Traceback" not in said
        filler.unlink()  # room again
        es.start()  # and Elasticsearch is back
        with DaemonProcess(cfg, tmp_path / "stderr2.txt") as again:
            wait_for(lambda: sum(count().values()) >= LINES, 120, f"{LINES} lines after the restart")
            assert again.stop() == 0, again.output()
        assert count() == Counter(line(i).split(": ", 1)[1] for i in range(LINES))
