"""Elasticsearch away: what is read goes to the disk buffer, and counts there as delivered (the
checkpoints move once it is in the files): the restart after a stop delivers it from the buffer and
does not read its lines again from the inputs (it used to send every line twice, which 409s absorbed:
status said "duplicates 40344"). A ``kill -9`` while the next run hands it to an output that has not
acknowledged it loses nothing: a record leaves the buffer's files once acknowledged, not once read."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path

from tests.fakees import FakeES
from tests.helpers.daemon import DaemonProcess, read_status, wait_for, write_config
from tests.unit.test_daemon_h10_buffer_not_read_again import Pipe

LINES = 3000


def line(i: int) -> str:
    return f"Aug 30 15:{i // 60 % 60:02d}:{i % 60:02d} gorp app[{i}]: outage line {i}"



def config(tmp_path: Path, url: str, fifo: Path | None = None) -> Path:
    output = ({"ndjson": {"path": str(fifo)}} if fifo is not None else
              {"elasticsearch": {"hosts": [url], "retry_initial": 0.05, "retry_max": 0.5}})
    return write_config(tmp_path / "shipper.yml", {
        "state_dir": str(tmp_path / "state"),
        "inputs": [{"type": "file", "paths": [str(tmp_path / "messages")], "name": "messages"}],
        "parse": {"timezone": "UTC", "year": 2017},
        "output": output,
        "run": {"batch_wait": "50ms", "status_interval": "100ms", "stop_timeout": "1s", "batch_events": 200}})


def read(state: Path) -> bool:
    """Every line read (the output unreachable: in memory, or in the disk buffer)."""
    return bool(read_status(state).get("inputs", {}).get("file-messages", {}).get("read") == LINES)


def fresh(state: Path) -> int:
    """Lines this run read, but those read again (before where the checkpoint counts them delivered)."""
    counts = read_status(state).get("inputs", {}).get("file-messages", {})
    return int(counts.get("read", 0)) - int(counts.get("read_again", 0))


def stored(es: FakeES) -> Counter[str]:
    return Counter(d["message"] for docs in es.cluster.all_docs().values() for d in docs.values())


def test_the_disk_buffer_is_delivered_from_there_not_read_again(tmp_path: Path) -> None:
    (tmp_path / "messages").write_text("".join(line(i) + "\n" for i in range(LINES)))
    state = tmp_path / "state"
    with FakeES("8.15.3", security=False) as es:
        es.stop()
        cfg = config(tmp_path, es.url)
        with DaemonProcess(cfg, tmp_path / "stderr1.txt") as daemon:
            wait_for(lambda: read(state), 60, "every line read")
            assert daemon.stop() == 0, daemon.output()  # (what waited in memory goes to the disk buffer)
        es.start()
        with DaemonProcess(cfg, tmp_path / "stderr2.txt") as again:
            wait_for(lambda: len(stored(es)) == LINES, 60, "every line delivered")
            wait_for(lambda: read_status(state).get("spool_bytes") == 0 and read_status(state).get("in_flight_batches") == 0,
                     30, "the buffer drained")
            assert again.stop() == 0, again.output()
        counters = read_status(state)["output"]["counters"]
    assert counters.get("duplicates", 0) == 0, counters
    assert max(stored(es).values()) == 1


def test_kill_9_while_the_buffer_is_delivered_loses_nothing(tmp_path: Path) -> None:
    """Stopped while Elasticsearch is away (everything read goes to the disk buffer, the checkpoint
    counts it), then killed while the next run (an NDJSON output now: the buffer's bulk items are
    delivered as documents) is stuck on a pipe nobody reads, with a record taken from the buffer and
    not acknowledged, and lines read meanwhile (once the output is stalled) saved with their
    checkpoints; the third run (Elasticsearch again) delivers the rest. What the pipe took and what
    Elasticsearch has is every line."""
    log = tmp_path / "messages"
    log.write_text("".join(line(i) + "\n" for i in range(LINES)))
    state = tmp_path / "state"
    with FakeES("8.15.3", security=False) as es:
        es.stop()
        with DaemonProcess(config(tmp_path, es.url), tmp_path / "stderr1.txt") as daemon:
            wait_for(lambda: read(state), 60, "every line read")
            assert daemon.stop() == 0, daemon.output()
        assert saved(state)
        pipe = Pipe(tmp_path / "stuck.ndjson")
        try:
            with DaemonProcess(config(tmp_path, es.url, pipe.path), tmp_path / "stderr2.txt") as daemon:
                wait_for(lambda: read_status(state).get("output", {}).get("name") == "ndjson"
                         and read_status(state).get("in_flight_batches", 0) > 0, 60, "records taken from the buffer")
                with log.open("a") as f:
                    f.write("".join(line(i) + "\n" for i in range(LINES, 2 * LINES)))
                wait_for(lambda: fresh(state) >= LINES - 1, 60, "the new lines read, the output stalled")
                time.sleep(1.5)  # (their checkpoint saved, the buffer synced)
                daemon.kill()
            took = pipe.drain("message")
        finally:
            os.close(pipe.fd)
        es.start()
        with DaemonProcess(config(tmp_path, es.url), tmp_path / "stderr3.txt") as again:
            wait_for(lambda: read_status(state).get("spool_bytes") == 0 and read_status(state).get("in_flight_batches") == 0
                     and read_status(state).get("state") == "running", 60, "the buffer drained")
            assert again.stop() == 0, again.output()
        got = set(stored(es)) | set(took)
    # (the last line was held by its parser, in case it continued, when the daemon was killed: it
    # comes with the next line)
    missing = {line(i).split(": ", 1)[1] for i in range(2 * LINES - 1)} - got
    assert not missing, f"{len(missing)} lines lost"


def saved(state: Path) -> bool:
    """The checkpoint counts every line read (it moved past them: they are in the disk buffer)."""
    try:
        saved = json.loads((state / "checkpoints" / "file-messages.json").read_text())["state"]
    except (FileNotFoundError, ValueError, KeyError):
        return False
    return any(pos > 0 for pos in saved.get("delivered", {}).values())
