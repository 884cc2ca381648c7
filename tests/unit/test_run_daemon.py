"""`shipper run` as a real process: files and journals in, the local store out, real signals."""

from __future__ import annotations

import signal
import socket
import sqlite3
import urllib.request
from pathlib import Path
from typing import Any, Callable

import orjson
import pytest

from tests.helpers.daemon import DaemonProcess, LiveJournal, wait_for, write_config
from tests.helpers.journal import JOURNAL_REMOTE, export_entry, make_journal
from tests.helpers.rsyslog import clock_seconds

SEED = Path(__file__).resolve().parents[1] / "data" / "seed"
pytest.importorskip("systemd.journal", reason="systemd-python is not installed")
if not JOURNAL_REMOTE.exists():
    pytest.skip("systemd-journal-remote is not installed", allow_module_level=True)


def config(tmp_path: Path, inputs: list[dict[str, Any]], **extra: Any) -> Path:
    cfg = {"state_dir": str(tmp_path / "state"), "inputs": inputs, "parse": {"timezone": "UTC", "year": 2017},
           "run": {"batch_wait": "100ms", "status_interval": "1s", **extra.pop("run", {})}, **extra}
    return write_config(tmp_path / "shipper.yml", cfg)


def stored(tmp_path: Path, where: str = "1") -> list[tuple[str, str]]:
    db = tmp_path / "state" / "events.db"
    if not db.exists():
        return []
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute(f"SELECT id, message FROM events WHERE {where} ORDER BY ts, rowid").fetchall()
    except sqlite3.OperationalError:  # the schema is not there yet
        return []
    finally:
        con.close()


def status(tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "state" / "status.json"
    return orjson.loads(path.read_bytes()) if path.exists() else {}


def syslog_lines(n: int, tag: str = "line") -> str:
    return "".join(f"Aug 30 15:{i // 60 % 60:02d}:{i % 60:02d} gorp app[{i}]: {tag} {i}\n" for i in range(n))


def test_ships_files_and_a_journal_then_stops_on_sigterm_with_checkpoints(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "messages").write_text(syslog_lines(50))
    make_journal(tmp_path / "journal", b"".join(
        export_entry({"MESSAGE": f"journal {i}", "SYSLOG_IDENTIFIER": "j", "_PID": "5"}, seq=i) for i in range(30)))
    cfg = config(tmp_path, [{"type": "file", "paths": [str(logs / "messages*")]},
                            {"type": "journal", "path": str(tmp_path / "journal")}])
    with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
        wait_for(lambda: len(stored(tmp_path)) >= 80, 60, "80 events in the store")
        with open(logs / "messages", "a") as f:
            f.write(syslog_lines(60)[len(syslog_lines(50)):])
        wait_for(lambda: len(stored(tmp_path)) >= 90, 60, "the appended lines")
        assert daemon.stop() == 0
    assert len(stored(tmp_path)) == 90
    assert (tmp_path / "stderr.txt").read_text().endswith("shipper: stopped; everything read was acknowledged by the output\n")
    checkpoints = {p.name: orjson.loads(p.read_bytes()) for p in (tmp_path / "state" / "checkpoints").iterdir()}
    assert len(checkpoints) == 2 and all(c["version"] == 1 for c in checkpoints.values())
    assert status(tmp_path)["state"] == "stopped"
    with DaemonProcess(cfg, tmp_path / "stderr2.txt") as again:  # a restart stores nothing twice
        wait_for(lambda: status(tmp_path).get("state") == "running", 60, "the restart")
        assert again.stop() == 0
    assert len(stored(tmp_path)) == 90


def test_the_same_entry_from_the_journal_and_from_messages_is_one_document(tmp_path: Path) -> None:
    """journald with ForwardToSyslog=yes: each entry is in the journal and in /var/log/messages."""
    lines = (SEED / "messages-sendmail.log").read_text().splitlines()
    entries = []
    for i, line in enumerate(lines):
        stamp, rest = line[:15], line[16:]
        host, ident_pid, message = rest.split(" ", 2)
        ident, pid = ident_pid.rstrip(":").rstrip("]").split("[")
        h, m, s = (int(x) for x in stamp[7:].split(":"))
        micros = ((1_504_051_200 + h * 3600 + m * 60 + s) * 1_000_000) + 417_000 + i  # journald keeps microseconds
        fields = {"MESSAGE": message, "SYSLOG_IDENTIFIER": ident, "_PID": pid, "_HOSTNAME": host,
                  "__REALTIME_TIMESTAMP": str(micros), "PRIORITY": "3" if "SYSERR" in message else "6"}
        if ident == "systemd":
            fields.update({"UNIT": "sendmail.service", "_SYSTEMD_UNIT": "init.scope"})
        else:
            fields["_SYSTEMD_UNIT"] = "sendmail.service"
        entries.append(export_entry(fields, seq=i))
    make_journal(tmp_path / "journal", b"".join(entries))
    (tmp_path / "messages").write_text("\n".join(lines) + "\n")
    cfg = config(tmp_path, [{"type": "journal", "path": str(tmp_path / "journal")},
                            {"type": "file", "paths": [str(tmp_path / "messages")]}])
    with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
        wait_for(lambda: sum(i["read"] for i in status(tmp_path).get("inputs", {}).values()) >= 2 * len(lines)
                 and status(tmp_path)["in_flight_batches"] == 0, 60, "both inputs read and shipped")
        assert daemon.stop() == 0
    docs = stored(tmp_path)
    assert sorted(m for _, m in docs) == sorted(line.split(": ", 1)[1] for line in lines)  # each once
    assert len({i for i, _ in docs}) == len(lines)


def test_multi_line_elasticsearch_records_are_grouped_while_written(tmp_path: Path) -> None:
    log = tmp_path / "elasticsearch.log"
    record = (SEED / "elasticsearch-bootstrap.log").read_text()
    head, rest = record.split("\n", 1)
    log.write_text("[2017-08-19T11:31:20,001][INFO ][o.e.n.Node               ] [elastic01] starting ...\n" + head + "\n")
    cfg = config(tmp_path, [{"type": "file", "paths": [str(tmp_path / "*.log")], "flush_after": "1s"}])
    with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
        wait_for(lambda: stored(tmp_path), 60, "the first record")
        with open(log, "a") as f:  # the stack of the record arrives later, in pieces
            f.write(rest)
        wait_for(lambda: stored(tmp_path, "message LIKE '%node validation exception%'"), 60, "the grouped record")
        assert daemon.stop() == 0
    grouped = stored(tmp_path, "message LIKE '%node validation exception%'")
    assert len(grouped) == 1 and "[2]: max virtual memory areas" in grouped[0][1]
    assert not stored(tmp_path, "unparsed = 1")  # no continuation line became an event of its own


def test_its_own_output_among_the_files_it_follows_is_not_read(tmp_path: Path) -> None:
    """`paths: [/var/log/*.log]` and the NDJSON output at /var/log/shipper.log: the output is not
    read back (it was, every line again and again: 150 MB in 8 s from 100 lines)."""
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "messages.log").write_text(syslog_lines(50))
    out = logs / "shipper.log"
    cfg = config(tmp_path, [{"type": "file", "paths": [str(logs / "*.log")]}], output={"ndjson": {"path": str(out)}})
    err = tmp_path / "stderr.txt"
    with DaemonProcess(cfg, err) as daemon:
        wait_for(lambda: "is shipper's own output; it is not read" in err.read_text(), 60, "the output skipped")
        with open(logs / "messages.log", "a") as f:
            f.write(syslog_lines(60)[len(syslog_lines(50)):])
        wait_for(lambda: out.read_bytes().count(b"\n") >= 60, 60, "the appended lines")
        assert daemon.stop() == 0
    assert sorted(orjson.loads(line)["message"] for line in out.read_bytes().splitlines()) == sorted(
        f"line {i}" for i in range(60))


def test_the_last_line_each_file_holds_back_is_linked_in_time_order(tmp_path: Path) -> None:
    """The demo's maillog and messages in one directory: the parser holds each file's last line
    for `flush_after` (the next line may continue it), and the maillog's last cause (14:56:02) was
    linked after two of messages' verdict lines (14:56:07): the failure was split into two
    incidents, one "caused by" the wrong line. As in a replay: one incident, all ten events."""
    demo = Path(__file__).resolve().parents[2] / "demo" / "logs"
    logs = tmp_path / "logs"
    logs.mkdir()
    for name in ("maillog", "messages"):
        (logs / name).write_bytes((demo / name).read_bytes())
    cfg = config(tmp_path, [{"type": "file", "paths": [str(logs / "*")]}])
    with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
        wait_for(lambda: len(stored(tmp_path)) == 10, 60, "the ten events")
        assert daemon.stop() == 0
    con = sqlite3.connect(tmp_path / "state" / "events.db")
    try:
        incidents = con.execute("SELECT incident, count(*) FROM events GROUP BY incident").fetchall()
    finally:
        con.close()
    assert len(incidents) == 1 and incidents[0][0] is not None and incidents[0][1] == 10


def test_sighup_reloads_a_valid_config_and_keeps_the_old_one_when_invalid(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text(syslog_lines(3, "a"))
    (tmp_path / "b.log").write_text(syslog_lines(4, "b"))
    cfg = config(tmp_path, [{"type": "file", "paths": [str(tmp_path / "a.log")]}])
    with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
        wait_for(lambda: len(stored(tmp_path)) == 3, 60, "a.log")
        a = {"type": "file", "paths": [str(tmp_path / "a.log")]}
        b = {"type": "file", "paths": [str(tmp_path / "b.log")]}
        config(tmp_path, [a, b, {"type": "kafka"}])
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: "not reloading" in daemon.output(), 60, "the refusal")
        assert "inputs[2].type" in daemon.output() and "still running on the previous configuration" in daemon.output()
        with open(tmp_path / "a.log", "a") as f:
            f.write("Aug 30 16:00:00 gorp app[1]: still shipped\n")
        wait_for(lambda: len(stored(tmp_path)) == 4, 60, "a.log's new line on the old config")
        config(tmp_path, [a, b])
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: len(stored(tmp_path)) == 8, 60, "b.log after the reload")
        assert "reloaded" in daemon.output()
        assert daemon.stop() == 0


def test_status_command_and_metrics_endpoint(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text(syslog_lines(20))
    port = _free_port()
    cfg = config(tmp_path, [{"type": "file", "paths": [str(tmp_path / "a.log")], "name": "alog"}],
                 run={"metrics": {"listen": f"127.0.0.1:{port}"}})
    with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
        wait_for(lambda: status(tmp_path).get("inputs", {}).get("file-alog", {}).get("shipped") == 20, 60, "20 shipped")
        metrics = wait_for(lambda: _get(f"http://127.0.0.1:{port}/metrics"), 30, "the metrics endpoint")
        assert 'shipper_events_read_total{input="file-alog"} 20.0' in metrics
        assert 'shipper_events_shipped_total{input="file-alog"} 20.0' in metrics
        assert "shipper_disk_buffer_bytes 0.0" in metrics and "shipper_lag_seconds" in metrics
        import subprocess
        import sys

        shown = subprocess.run([sys.executable, "-m", "tests.helpers.daemon", "status", "--config", str(cfg)],
                               capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2], timeout=60)
        assert shown.returncode == 0, shown.stderr
        assert "shipper is running" in shown.stdout and "20 shipped" in shown.stdout
        assert "checkpoint file-alog" in shown.stdout
        assert daemon.stop() == 0


def test_sd_notify_ready_status_watchdog_and_stopping(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text(syslog_lines(5))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.settimeout(30)
    cfg = config(tmp_path, [{"type": "file", "paths": [str(tmp_path / "a.log")]}])
    env = {"NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "400000"}
    received: list[str] = []
    with DaemonProcess(cfg, tmp_path / "stderr.txt", env=env) as daemon:
        def receive_until(done: Callable[[], bool]) -> None:
            while not done():  # recv times out (30 s) if the daemon stops sending
                received.extend(sock.recv(4096).decode().split("\n"))

        receive_until(lambda: "READY=1" in received)
        assert any(m.startswith("STATUS=") for m in received)
        pings = received.count("WATCHDOG=1")
        receive_until(lambda: received.count("WATCHDOG=1") >= pings + 3)  # every 0.2 s (half of WATCHDOG_USEC)
        daemon.signal(signal.SIGINT)  # Ctrl-C: the same clean stop as SIGTERM
        assert daemon.stop() == 0
        receive_until(lambda: "STOPPING=1" in received)
    sock.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return str(resp.read().decode())
    except OSError:
        return None


def test_live_journal_directory_is_followed(tmp_path: Path) -> None:
    with LiveJournal(tmp_path / "journal") as live:
        live.write([{"MESSAGE": "first", "SYSLOG_IDENTIFIER": "x", "_PID": "1"}])
        wait_for(lambda: live.files(), 30, "the journal file")
        cfg = config(tmp_path, [{"type": "journal", "path": str(tmp_path / "journal")}])
        with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
            wait_for(lambda: len(stored(tmp_path)) == 1, 60, "the first entry")
            live.write([{"MESSAGE": f"live {i}", "SYSLOG_IDENTIFIER": "x", "_PID": "1"} for i in range(200)])
            wait_for(lambda: len(stored(tmp_path)) == 201, 60, "the appended entries")
            assert daemon.stop() == 0


def test_a_journal_vacuumed_while_stopped_gives_a_gap_event_in_the_output(tmp_path: Path) -> None:
    import subprocess

    journal = tmp_path / "journal"
    with LiveJournal(journal) as live:
        live.write([{"MESSAGE": f"entry {i}", "SYSLOG_IDENTIFIER": "x", "_PID": str(i), **{f"X_{k}": f"{k}{i}" for k in range(6)}}
                    for i in range(26_000)])
    assert len(live.files()) >= 2
    cfg = config(tmp_path, [{"type": "journal", "path": str(journal), "name": "j"}])
    with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
        wait_for(lambda: len(stored(tmp_path)) == 26_000, 120, "every entry")
        assert daemon.stop() == 0
    # Pretend shipper had stopped early: its checkpoint points at entry 10, then the journal is vacuumed.
    checkpoint = tmp_path / "state" / "checkpoints" / "journal-j.json"
    state = orjson.loads(checkpoint.read_bytes())
    from systemd import journal as sd

    reader = sd.Reader(path=str(journal))
    reader.seek_head()
    for _ in range(11):
        entry = reader.get_next()
    (writer,) = state["state"]["writers"]  # one writer: systemd-journal-remote
    state["state"]["writers"][writer] = {"cursor": entry["__CURSOR"], "time": "2017-08-30T14:55:57.000000Z"}
    reader.close()
    checkpoint.write_bytes(orjson.dumps(state))
    subprocess.run(["journalctl", f"--directory={journal}", "--vacuum-files=1"], check=True, capture_output=True)
    with DaemonProcess(cfg, tmp_path / "stderr2.txt") as daemon:
        gap = wait_for(lambda: stored(tmp_path, "signature = 'shipper.gap'"), 60, "the gap event")
        assert daemon.stop() == 0
    assert len(gap) == 1
    message = gap[0][1]
    assert message.startswith("shipper.gap: journal ") and "2017-08-30T14:55:57" in message and "may be missing" in message
    assert "vacuumed" in daemon.output()


def test_a_failure_read_before_its_cause_from_another_file_still_learns_it(tmp_path: Path) -> None:
    """A first start on a host with history: the report's systemd lines are in messages, among
    2 MB of other lines, and its sendmail lines in maillog. Messages is read a megabyte a turn and
    shipped as it comes, maillog's few lines wait for their batch to fill (``batch_wait``): the
    failure is read first, and must still carry its cause (`shipper.enrich.order`)."""
    lines = (SEED / "messages-sendmail.log").read_text().splitlines()
    def filler(process: str, every: int) -> list[str]:
        return [f"Aug 30 {s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d} gorp {process}: other line {s}"
                for s in range(0, 86_400, every)]

    messages = sorted(filler("app[7]", 2) + [line for line in lines if " systemd[1]: " in line], key=lambda line: line[:15])
    maillog = sorted(filler("sendmail[9]", 900) + [line for line in lines if " sendmail[" in line], key=lambda line: line[:15])
    (tmp_path / "messages").write_text("\n".join(messages) + "\n")
    (tmp_path / "maillog").write_text("\n".join(maillog) + "\n")
    assert (tmp_path / "messages").read_text().index(" systemd[1]: ") > 1 << 20  # not in the first turn's megabyte
    cfg = config(tmp_path, [{"type": "file", "paths": [str(tmp_path / "messages")]},
                            {"type": "file", "paths": [str(tmp_path / "maillog")]}], run={"batch_wait": "2s"})
    with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
        wait_for(lambda: len(stored(tmp_path)) == len(messages) + len(maillog), 120, "every line")
        assert daemon.stop() == 0
    failures = stored(tmp_path, "json_extract(doc, '$.rootcause.role') = 'failure'")
    causes = [row[0] for row in stored(tmp_path, "json_extract(doc, '$.rootcause.cause.signature') = 'sendmail.bind_address_in_use'")]
    assert len(failures) == 3 and sorted(causes) == sorted(i for i, _ in failures)


def test_a_failure_in_the_journal_learns_its_cause_from_maillog_at_a_first_start(tmp_path: Path) -> None:
    """A journal input (systemd's verdict among an hour of other entries, read 256 entries a
    turn) and maillog (the report's SYSERRs), as on a host whose sendmail logs to syslog only."""
    lines = (SEED / "messages-sendmail.log").read_text().splitlines()
    start = 1_504_101_600  # 2017-08-30T14:00:00Z
    stamp = lambda line: start + clock_seconds(line) - 14 * 3600  # noqa: E731
    entries = [({"MESSAGE": f"other entry {i}", "SYSLOG_IDENTIFIER": "app", "_PID": "7"}, start + i) for i in range(0, 7200, 2)]
    for line in lines:
        if " systemd[1]: " in line:
            entries.append(({"MESSAGE": line.split(": ", 1)[1], "SYSLOG_IDENTIFIER": "systemd", "_PID": "1",
                             "UNIT": "sendmail.service", "_SYSTEMD_UNIT": "init.scope"}, stamp(line)))
    entries.sort(key=lambda e: e[1])
    make_journal(tmp_path / "journal", b"".join(
        export_entry({**fields, "__REALTIME_TIMESTAMP": str(t * 1_000_000)}, seq=i) for i, (fields, t) in enumerate(entries)))
    maillog = [f"Aug 30 14:{m:02d}:00 gorp sendmail[9]: r{m:05d}: from=<a@b>, size=1, nrcpts=1" for m in range(0, 55, 5)]
    (tmp_path / "maillog").write_text("\n".join(maillog + [line for line in lines if " sendmail[" in line]) + "\n")
    cfg = config(tmp_path, [{"type": "journal", "path": str(tmp_path / "journal")},
                            {"type": "file", "paths": [str(tmp_path / "maillog")]}], run={"batch_wait": "2s"})
    with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
        wait_for(lambda: len(stored(tmp_path)) == len(entries) + len(maillog) + 7, 120, "every entry and line")
        assert daemon.stop() == 0
    failures = stored(tmp_path, "json_extract(doc, '$.rootcause.role') = 'failure'")
    causes = [row[0] for row in stored(tmp_path, "json_extract(doc, '$.rootcause.cause.signature') = 'sendmail.bind_address_in_use'")]
    assert len(failures) == 3 and sorted(causes) == sorted(i for i, _ in failures)
