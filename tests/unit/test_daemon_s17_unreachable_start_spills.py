"""A real `shipper run` whose output does not answer at the start: what it read while it was still
waiting for Elasticsearch's first answer (queued in memory: the output was not known unreachable
yet) goes to the disk buffer once the output is found unreachable, as what it reads afterwards
does; it is not left in memory, its checkpoints held back, for the length of the outage. The
output then answers, and the lines are shipped from the disk buffer.

Elasticsearch's port is held by a listening socket that never accepts: the daemon's first request
(``GET /``) waits, for as long as the test wants (``request_timeout`` is long), while the daemon
reads the lines. Closing that socket resets the waiting connection: the first attempt fails then,
and every attempt after it is refused until the fake Elasticsearch listens on the port again."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.fakees import FakeES, Grant
from tests.helpers.daemon import DaemonProcess, wait_for
from tests.helpers.es import make_env, run_command
from tests.unit.test_run_reload_es_output import GOOD, append, config, status, stream


def _silent_listener(port: int) -> socket.socket:
    """A socket listening on ``port`` that never accepts: connections complete, nothing answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(8)
    return sock


def test_s17_lines_read_before_the_output_is_found_unreachable_go_to_the_disk_buffer(tmp_path: Path) -> None:
    with FakeES("8.15.3", credentials={f"ApiKey {GOOD}": Grant()}) as es:
        log = tmp_path / "messages"
        append(log, 0, 5)
        cfg = config(tmp_path, log, [es.url], key=GOOD)
        assert run_command("setup", ["--config", str(cfg)], make_env()) == 0
        config(tmp_path, log, [es.url], key=GOOD, request_timeout="60s")
        es.stop()  # (the port is kept: `start` listens on it again)
        silent = _silent_listener(es.port)
        try:
            with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
                wait_for(lambda: status(tmp_path).get("queue_events") == 5, 30, "the 5 lines read, queued in memory")
                assert "retrying in the background" not in daemon.output(), daemon.output()  # (still asking)
                silent.close()  # (the first attempt fails now)
                wait_for(lambda: "retrying in the background" in daemon.output(), 30, "the output found unreachable")
                wait_for(lambda: status(tmp_path).get("spool_bytes", 0) > 0 and status(tmp_path)["queue_events"] == 0,
                         10, "the queued lines moved to the disk buffer: spool_bytes > 0, queue_events 0")
                assert not es.docs(stream("default"))
                es.start()
                wait_for(lambda: len(es.docs(stream("default"))) == 5, 60, "the 5 documents")
                wait_for(lambda: "shipper: the elasticsearch output is reachable again: shipping resumes" in daemon.output(),
                         30, "the output's recovery logged")
                assert daemon.stop() == 0, daemon.output()
        finally:
            silent.close()
