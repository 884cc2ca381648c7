"""`shipper run` while Elasticsearch fails after it was reached: `status` shows the output as not
connected (it said "connected" during an outage), items the cluster cannot take now are retried
until it takes them (they went to the dead letter after max_item_retries), and whole-request 500s
are an outage too (the daemon exited 5 on the first, and under Restart=on-failure flapped)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


from tests.fakees import FakeES
from tests.helpers.daemon import DaemonProcess, wait_for, write_config

SYSLOG = "logs-shipper.syslog-default"


def status(state: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((state / "status.json").read_text()))
    except (FileNotFoundError, ValueError):
        return {}


def connected(state: Path, now: dict[str, Any] | None = None) -> bool | None:
    output = (now if now is not None else status(state)).get("output")
    return output.get("connected") if isinstance(output, dict) else None


def start(tmp_path: Path, es: FakeES, lines: int) -> tuple[Path, Path, DaemonProcess]:
    log = tmp_path / "messages"
    append(log, 0, lines)
    state = tmp_path / "state"
    cfg = write_config(tmp_path / "shipper.yml", {
        "state_dir": str(state),
        "inputs": [{"type": "file", "paths": [str(log)], "name": "messages"}],
        "parse": {"timezone": "UTC", "year": 2017},
        "output": {"elasticsearch": {"hosts": [es.url], "retry_initial": "10ms", "retry_max": "50ms",
                                     "max_item_retries": 2}},
        "run": {"batch_wait": "50ms", "status_interval": "100ms"},
    })
    return log, state, DaemonProcess(cfg, tmp_path / "stderr.txt")


def failing(state: Path, reason: str) -> dict[str, Any] | None:
    """The status, once it shows the output not connected after a message with ``reason``."""
    now = status(state)
    return now if reason in str(now.get("last_message")) and connected(state, now) is False else None


def append(log: Path, first: int, n: int) -> None:
    with log.open("a") as f:
        f.writelines(f"Aug 30 15:{i // 60 % 60:02d}:{i % 60:02d} gorp app[{i}]: line {i}\n" for i in range(first, first + n))


def test_items_the_cluster_cannot_take_are_an_outage_not_dead_letters(tmp_path: Path, es: FakeES) -> None:
    es.faults.item_503_times = 10_000  # every document: 503 unavailable_shards_exception, until the shard is back
    log, state, daemon = start(tmp_path, es, 40)
    with daemon:
        refused = wait_for(lambda: failing(state, "does not take"), 60, "status: not connected, and why")
        assert "(503 unavailable_shards_exception: " in str(refused["last_message"])
        es.faults.item_503_times = 0  # the shard is active again
        wait_for(lambda: len(es.docs(SYSLOG)) == 40, 60, "the 40 documents")
        wait_for(lambda: connected(state) is True, 30, "status: connected again")
        assert daemon.stop() == 0, daemon.output()
    said = daemon.output()
    assert "dead-letter" not in said and "answers again" in said, said
    assert status(state)["dead_lettered"] == 0 and status(state)["output"]["counters"]["retried_items"] >= 80


def test_a_500_and_a_refused_connection_are_outages_shown_in_status(tmp_path: Path, es: FakeES) -> None:
    log, state, daemon = start(tmp_path, es, 10)
    with daemon:
        wait_for(lambda: len(es.docs(SYSLOG)) == 10 and connected(state) is True, 60, "the first 10 documents")
        es.faults.request_statuses = [500] * 40
        append(log, 10, 10)
        wait_for(lambda: failing(state, "(500 null_pointer_exception"), 60, "status: not connected on 500s")
        wait_for(lambda: not es.faults.request_statuses, 60, "the 40 failed requests")
        wait_for(lambda: len(es.docs(SYSLOG)) == 20 and connected(state) is True, 60, "the next 10 documents")
        es.stop()
        append(log, 20, 10)
        wait_for(lambda: failing(state, "Connection refused"), 60, "status: not connected while the port refuses")
        es.start()
        wait_for(lambda: len(es.docs(SYSLOG)) == 30 and connected(state) is True, 60, "the last 10 documents")
        assert daemon.running(), daemon.output()
        assert daemon.stop() == 0, daemon.output()
    said = daemon.output()
    assert "is failing (500 null_pointer_exception" in said and "shipper bug" not in said, said
