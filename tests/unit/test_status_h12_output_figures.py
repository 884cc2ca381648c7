"""`shipper status` of a real daemon: what the output acknowledged and of it, what it had already
(409s: they were counted as shipped and the text never said so), and what a previous run left in
the disk buffer (delivered, but no input's figures had it: "0 read, 0 shipped"); that the output,
unreachable at the start, is reachable again (nothing said so, and the last message stayed "cannot
reach Elasticsearch"); and an NDJSON output stuck in a write (it showed "ndjson connected")."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


from shipper.state.status import write_status
from tests.fakees import FakeES
from tests.helpers.daemon import DaemonProcess, wait_for, write_config
from tests.helpers.es import make_env, out, run_command
from tests.unit.test_run_es_outage import SYSLOG, append, status
from tests.unit.test_run_stop_output_down import closed_port

LINES = 300


def status_text(state: Path) -> str:
    env = make_env()
    run_command("status", ["--state-dir", str(state)], env)
    return out(env)


def es_config(tmp_path: Path, log: Path, url: str) -> Path:
    return write_config(tmp_path / "shipper.yml", {
        "state_dir": str(tmp_path / "state"),
        "inputs": [{"type": "file", "paths": [str(log)], "name": "messages", "flush_after": "100ms"}],
        "parse": {"timezone": "UTC", "year": 2017},
        "output": {"elasticsearch": {"hosts": [url], "retry_initial": "10ms", "retry_max": "50ms"}},
        "run": {"batch_wait": "50ms", "status_interval": "100ms", "stop_timeout": "2s"},
    })


def test_the_disk_buffer_of_a_previous_run_and_the_output_back(tmp_path: Path, es: FakeES) -> None:
    log, state = tmp_path / "messages", tmp_path / "state"
    append(log, 0, LINES)
    first = DaemonProcess(es_config(tmp_path, log, f"http://127.0.0.1:{closed_port()}"), tmp_path / "first.txt")
    with first:  # Elasticsearch unreachable: what it read waits in the disk buffer
        wait_for(lambda: sum(i["docs"] for i in status(state).get("inputs", {}).values()) == LINES, 60,
                 "every line handed on (the last one too: flush_after)")
        assert first.stop() == 0, first.output()
    es.stop()
    daemon = DaemonProcess(es_config(tmp_path, log, es.url), tmp_path / "stderr.txt")
    with daemon:
        wait_for(lambda: "cannot reach Elasticsearch" in str(status(state).get("last_message")), 60, "cannot reach")
        es.start()
        wait_for(lambda: status(state).get("shipped_from_previous_run") == LINES, 60, "the disk buffer delivered")
        wait_for(lambda: len(es.docs(SYSLOG)) == LINES, 60, "every event in Elasticsearch")
        text = status_text(state)
        assert daemon.stop() == 0, daemon.output()
    said = daemon.output()
    assert "shipper: the elasticsearch output is reachable again: shipping resumes" in said, said
    assert "last message: shipper: the elasticsearch output is reachable again" in text, text
    assert f", {LINES:,} of them left in the disk buffer by an earlier run or before a reload" in text, text


def test_events_elasticsearch_had_already_are_said_as_duplicates(tmp_path: Path, es: FakeES) -> None:
    log, state = tmp_path / "messages", tmp_path / "state"
    append(log, 0, LINES)
    cfg = es_config(tmp_path, log, es.url)
    for run in ("first", "again"):  # the second time without checkpoints: every line is read and sent again
        shutil.rmtree(state / "checkpoints", ignore_errors=True)
        with DaemonProcess(cfg, tmp_path / f"{run}.txt") as daemon:
            pid = daemon.proc.pid if daemon.proc is not None else None
            wait_for(lambda: status(state).get("shipped") == LINES and status(state).get("pid") == pid, 60,
                     "every line acknowledged")
            text = status_text(state)
            assert daemon.stop() == 0, daemon.output()
    assert len(es.docs(SYSLOG)) == LINES
    assert (f"  output elasticsearch: {LINES:,} shipped, {LINES:,} of them already there (duplicates: sent before, "
            "kept once)\n") in text, text


def test_a_stuck_ndjson_output_shows_how_long_it_has_taken_no_batch(tmp_path: Path) -> None:
    log, fifo, state = tmp_path / "messages", tmp_path / "out.fifo", tmp_path / "state"
    append(log, 0, 2000)  # far more than a pipe holds
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # opened, never read: writes block once the pipe is full
    try:
        cfg = write_config(tmp_path / "shipper.yml", {
            "state_dir": str(state), "inputs": [{"type": "file", "paths": [str(log)], "name": "messages"}],
            "parse": {"timezone": "UTC", "year": 2017}, "output": {"ndjson": {"path": str(fifo)}},
            "run": {"batch_wait": "50ms", "status_interval": "100ms", "stop_timeout": "1s"},
        })
        with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
            wait_for(lambda: ((status(state).get("output") or {}).get("stalled_seconds") or 0) >= 7, 60,
                     "the output shown stalled")
            text = status_text(state)
            daemon.stop()
    finally:
        os.close(reader)
    assert "ndjson connected but has not taken a batch for " in text, text


def test_what_read_and_read_again_count_is_said(tmp_path: Path) -> None:
    figures = {"label": "/var/log/m.log", "read": 2218, "shipped": 1200, "read_again": 18}
    write_status(tmp_path, {"pid": os.getpid(), "state": "stopped", "updated": "2017-08-30T15:00:00.000000Z",
                            "line": "read 0/s", "inputs": {"k": figures}})
    env = make_env()
    run_command("status", ["--state-dir", str(tmp_path)], env)
    assert ("input /var/log/m.log: 2,218 read, 1,200 shipped, lag 0.0 s, 18 of those read were shipped before a "
            "restart or reload (read again, not shipped again)") in out(env)
