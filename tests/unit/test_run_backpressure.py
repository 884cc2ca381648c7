"""Backpressure: while Elasticsearch is away, events go to the disk buffer; when it is full,
reading pauses (the file keeps the rest); memory stays bounded; nothing is lost or doubled."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import orjson

from tests.fakees import FakeES
from tests.helpers.daemon import DaemonProcess, wait_for, write_config

LINES = 60_000


def line(i: int) -> str:
    return f"Aug 30 15:{i // 2000 % 60:02d}:{i // 40 % 50:02d} gorp app[{i % 1000}]: backpressure line {i} " + "x" * 40


def status(tmp_path: Path) -> dict:
    path = tmp_path / "state" / "status.json"
    return orjson.loads(path.read_bytes()) if path.exists() else {}


def rss_mb(pid: int) -> float:
    for row in Path(f"/proc/{pid}/status").read_text().splitlines():
        if row.startswith("VmRSS:"):
            return int(row.split()[1]) / 1024
    return 0.0


def test_outage_fills_the_disk_buffer_then_pauses_reading_and_loses_nothing(tmp_path: Path) -> None:
    log = tmp_path / "messages"
    log.write_text(line(0) + "\n")
    with FakeES("8.15.3", security=False) as es:
        cfg = write_config(tmp_path / "shipper.yml", {
            "state_dir": str(tmp_path / "state"),
            "inputs": [{"type": "file", "paths": [str(log)], "name": "messages"}],
            "parse": {"timezone": "UTC", "year": 2017},
            "output": {"elasticsearch": {"hosts": [es.url], "retry_initial": 0.05, "retry_max": 0.5,
                                         "max_held_events": 2000}},
            "run": {"queue_events": 1000, "spool_max_bytes": "2MiB", "batch_wait": "100ms", "status_interval": "1s"},
        })

        def count() -> Counter[str]:
            return Counter(d["message"] for docs in es.cluster.all_docs().values() for d in docs.values())

        with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
            wait_for(lambda: sum(count().values()) == 1, 60, "the first line")
            es.stop()  # Elasticsearch goes away
            with open(log, "a") as f:
                f.write("".join(line(i) + "\n" for i in range(1, LINES)))
            sizes: list[int] = []

            def filled() -> bool:  # the disk buffer stopped growing (under its bound: it is never reached exactly)
                sizes.append(status(tmp_path).get("spool_bytes", 0))
                return len(sizes) > 30 and sizes[-1] > 1 << 20 and sizes[-1] == sizes[-30]

            wait_for(filled, 90, "a full disk buffer")
            assert max(sizes) <= 2 << 20
            read = status(tmp_path)["inputs"]["file-messages"]["read"]
            time.sleep(2.5)  # the status file is rewritten every second: reading must not move
            now = status(tmp_path)
            assert now["inputs"]["file-messages"]["read"] == read < LINES, "reading did not pause"
            assert now["inputs"]["file-messages"]["backlog_bytes"] > 0  # the rest waits in the file
            assert rss_mb(daemon.proc.pid) < 150  # type: ignore[union-attr]
            es.start()  # back
            wait_for(lambda: sum(count().values()) >= LINES, 120, f"{LINES} lines after the outage")
            assert daemon.stop() == 0
        got = count()
        assert got == Counter(line(i).split(": ", 1)[1] for i in range(LINES))
