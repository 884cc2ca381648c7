"""The daemon's small parts: messages and the terminal status line, sd_notify over a real socket,
the status document."""

from __future__ import annotations

import io
import os
import socket
from pathlib import Path

from shipper.daemon.console import Console
from shipper.daemon.notify import Notifier
from shipper.daemon.stats import Snapshot, Stats, human_bytes
from shipper.secrets import register


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_messages_keep_the_status_line_at_the_bottom_and_hide_secrets() -> None:
    out = Tty()
    console = Console(out, tty=True)
    console.status("read 10/s")
    register("s3cr3t-api-key")
    console.log("Elasticsearch said s3cr3t-api-key is wrong")
    text = out.getvalue()
    assert text == ("\r\x1b[Kread 10/s" "\r\x1b[K" "shipper: Elasticsearch said [REDACTED] is wrong\n" "read 10/s")
    assert console.last_message == "shipper: Elasticsearch said [REDACTED] is wrong"
    plain = io.StringIO()
    quiet = Console(plain, tty=False)
    quiet.status("not drawn")
    quiet.stream().write("shipper: from a sink\npartial")
    assert plain.getvalue() == "shipper: from a sink\n"


def test_sd_notify_datagrams_and_the_watchdog_interval(tmp_path: Path) -> None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.settimeout(5)
    n = Notifier({"NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "2000000"})
    assert n.watchdog_interval == 1.0
    n.ready("shipping from 2 inputs")
    assert sock.recv(4096).decode().split("\n") == ["READY=1", "STATUS=shipping from 2 inputs", f"MAINPID={os.getpid()}"]
    n.watchdog(100.0)
    n.watchdog(100.5)  # not due yet: nothing sent
    n.watchdog(101.0)
    assert [sock.recv(100), sock.recv(100)] == [b"WATCHDOG=1", b"WATCHDOG=1"]
    sock.setblocking(False)
    try:
        sock.recv(100)
        raise AssertionError("a third ping was sent")
    except BlockingIOError:
        pass
    assert Notifier({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "1"}).watchdog_interval is None  # not ours
    Notifier({}).ready("nothing to talk to")  # outside systemd: silently nothing


def test_abstract_notify_socket() -> None:
    name = f"shipper-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(5)
    Notifier({"NOTIFY_SOCKET": "@" + name}).status("hello")
    assert sock.recv(100) == b"STATUS=hello"


def test_status_document_rates_lag_and_line() -> None:
    stats = Stats()
    stats.add_input("file-a", "/var/log/messages").read = 100

    def snap(now: float, shipped: int, oldest: float | None) -> Snapshot:
        return Snapshot(now=now, wall=0.0, shipped={"file-a": shipped}, oldest={"file-a": oldest},
                        backlog={"file-a": 2048}, queue_events=40, spool_bytes=3 << 20, in_flight=2,
                        sink="elasticsearch", connected=True, sink_counters={"request_retries": 3, "dead_lettered": 1},
                        last_message=None)

    stats.status(snap(10.0, 0, None), {})
    stats.inputs["file-a"].read = 600
    doc = stats.status(snap(12.0, 400, 11.5), {"pid": 1})
    assert doc["rates"] == {"read_per_second": 250.0, "shipped_per_second": 200.0}
    assert doc["lag_seconds"] == 0.5 and doc["inputs"]["file-a"]["backlog_bytes"] == 2048
    assert doc["line"] == ("read 250/s, shipped 200/s, lag 0.5 s, queue 40 events, buffer 3.0 MiB, "
                           "elasticsearch connected, 3 retries, 1 dead-lettered")
    assert human_bytes(512) == "512 B" and human_bytes(None) == "?"
