"""`shipper status` and the metrics endpoint of a real daemon show what a file input counts itself:
the NUL bytes it dropped before lines (a writer not in append mode, after a copytruncate) and the
files it skips because another input reads them; the documents read again after a restart (not
shipped again); and where each writer of a journal is."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.daemon import DaemonProcess, wait_for
from tests.helpers.journal import JOURNAL_REMOTE, export_entry, make_journal
from tests.unit.test_run_daemon import _free_port, _get, config, status

pytest.importorskip("systemd.journal", reason="systemd-python is not installed")
pytest.importorskip("prometheus_client", reason="prometheus-client is not installed")
if not JOURNAL_REMOTE.exists():
    pytest.skip("systemd-journal-remote is not installed", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]


def lines(n: int, tag: str) -> bytes:
    return "".join(f"Aug 30 15:{i // 60 % 60:02d}:{i % 60:02d} gorp app[{i}]: {tag} {i}\n" for i in range(n)).encode()


def host(name: str, n: int) -> bytes:
    return b"".join(export_entry({"MESSAGE": f"{name} {i}", "SYSLOG_IDENTIFIER": "app", "_PID": "7",
                                  "_BOOT_ID": name[-1] * 32, "_HOSTNAME": name}, seq=i) for i in range(n))


def shown(cfg: Path) -> str:
    proc = subprocess.run([sys.executable, "-m", "tests.helpers.daemon", "status", "--config", str(cfg)],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def figures(tmp_path: Path, key: str) -> dict[str, Any]:
    return dict(status(tmp_path).get("inputs", {}).get(key, {}))


def test_status_and_metrics_show_the_inputs_own_counts_and_the_journal_writers(tmp_path: Path) -> None:
    logs, journal = tmp_path / "logs", tmp_path / "journal"
    logs.mkdir()
    (logs / "other.log").write_bytes(lines(40, "other"))
    make_journal(journal, host("hosta", 20), name="remote-hosta")
    make_journal(journal, host("hostb", 5), name="remote-hostb")
    port = _free_port()
    inputs: list[dict[str, Any]] = [
        {"type": "file", "name": "mail", "paths": [str(logs / "mail*")], "scan_interval": "200ms"},
        {"type": "file", "name": "logs", "paths": [str(logs / "*.log")], "scan_interval": "200ms"},  # mail.log too
        {"type": "journal", "name": "remote", "path": str(journal)},
    ]
    cfg = config(tmp_path, inputs, run={"metrics": {"listen": f"127.0.0.1:{port}"}})
    writer = os.open(logs / "mail.log", os.O_WRONLY | os.O_CREAT, 0o644)  # no O_APPEND
    try:
        os.write(writer, lines(30, "mail"))
        with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
            wait_for(lambda: figures(tmp_path, "file-mail").get("shipped") == 30, 60, "mail.log shipped")
            shutil.copyfile(logs / "mail.log", logs / "mail.log.1")  # copytruncate
            os.truncate(logs / "mail.log", 0)
            hole = os.lseek(writer, 0, os.SEEK_CUR)
            os.write(writer, lines(1, "after the rotation"))
            wait_for(lambda: figures(tmp_path, "file-mail").get("nul_bytes_skipped") == hole
                     and figures(tmp_path, "file-mail").get("shipped") == 31
                     and figures(tmp_path, "file-logs").get("files_read_by_another_input") == 1
                     and figures(tmp_path, "journal-remote").get("shipped") == 25, 60, "the counts in the status")
            metrics = wait_for(lambda: _get(f"http://127.0.0.1:{port}/metrics"), 30, "the metrics endpoint") or ""
            text = shown(cfg)
            assert daemon.stop() == 0
    finally:
        os.close(writer)
    assert f'shipper_nul_bytes_skipped_total{{input="file-mail"}} {float(hole)}' in metrics
    assert 'shipper_nul_bytes_skipped_total{input="file-logs"} 0.0' in metrics
    assert 'shipper_files_read_by_another_input{input="file-logs"} 1.0' in metrics
    assert 'shipper_files_read_by_another_input{input="file-mail"} 0.0' in metrics
    assert (f"  input {logs}/mail*: 31 read, 31 shipped, lag 0.0 s, {hole:,} NUL bytes dropped before lines "
            "(a writer not in append mode: see the log)\n") in text
    assert (f"  input {logs}/*.log: 40 read, 40 shipped, lag 0.0 s, 1 file skipped: another input reads "
            "it (see the log)\n") in text
    assert "read again" not in text  # a first start reads nothing again
    writers = [line for line in text.splitlines() if line.startswith("    writer ")]
    assert [w.partition(": ")[2] for w in writers] == [  # hostb, 5 entries, the least far first
        "shipped up to its entry of 2017-08-30T14:55:51.000000Z", "shipped up to its entry of 2017-08-30T14:56:06.000000Z"]
    assert "  checkpoint journal-remote: journal after " in text and "(the least far of its 2 writers)" in text

    with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:  # a restart: the ids' last seconds are read again
        wait_for(lambda: figures(tmp_path, "file-logs").get("read_again", 0) > 0
                 and figures(tmp_path, "journal-remote").get("read_again", 0) > 0, 60, "read_again in the status")
        again = figures(tmp_path, "file-logs")["read_again"]
        assert figures(tmp_path, "file-logs")["shipped"] == 0  # read again, not shipped again
        text = shown(cfg)
        assert figures(tmp_path, "file-logs")["files_read_by_another_input"] == 1
        inputs[1]["exclude"] = ["mail.log*"]  # the overlap ended by a reload: no file skipped any more
        config(tmp_path, inputs, run={"metrics": {"listen": f"127.0.0.1:{port}"}})
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: "shipper: reloaded" in daemon.output(), 60, "the reload")
        wait_for(lambda: figures(tmp_path, "file-logs").get("files_read_by_another_input") == 0, 60, "no file skipped")
        assert daemon.stop() == 0
    assert f", {again:,} of those read were shipped before a restart or reload (read again, not shipped again)" in text
