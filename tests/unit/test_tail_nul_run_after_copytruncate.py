"""logrotate's copytruncate with a writer that does not open its file in append mode: the writer goes
on at its old offset, and the file gets a hole (read as NUL bytes) before its next line. That run is
dropped from the line, which then parses and is recognised, and is not silent: the line is tagged
``nul_bytes_skipped``, the daemon says so (with the run's length) and counts the bytes. The run may
be longer than max_line_bytes, and is split across reads: the line is still whole."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from pathlib import Path

from shipper.cli import main
from shipper.env import Env
from shipper.event import TAG_NUL_SKIPPED
from shipper.parse.base import ParseContext
from shipper.parse.dispatch import make_parser
from shipper.sources.base import RawChunk
from tests.helpers.daemon import DaemonProcess, wait_for, write_config
from tests.unit.test_tail_files import Clock, make, poll

FAILURE = ("Aug 30 14:56:07 gorp sendmail[812]: NOQUEUE: SYSERR(root): opendaemonsocket: daemon MTA: cannot bind: "
           "Address already in use")


def before(n: int) -> str:
    return "".join(f"Aug 30 14:55:{i % 60:02d} gorp app[{100 + i}]: line {i} of the old content\n" for i in range(n))


def copytruncate_with_a_plain_writer(log: Path, old_lines: int) -> int:
    """Write ``old_lines`` as a writer without O_APPEND does, copy the file, truncate it, then the
    writer writes the failure at its old offset (the size before the truncation). Returns that offset."""
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, before(old_lines).encode())
        shutil.copy(log, log.with_name(log.name + ".1"))  # logrotate copytruncate: copy, then truncate
        os.truncate(log, 0)
        offset = os.lseek(fd, 0, os.SEEK_CUR)
        os.write(fd, (FAILURE + "\n").encode())
    finally:
        os.close(fd)
    return offset


def test_the_file_is_written_as_copytruncate_leaves_it(tmp_path: Path) -> None:
    log = tmp_path / "maillog"
    offset = copytruncate_with_a_plain_writer(log, 2000)
    data = log.read_bytes()
    assert offset > 64 * 1024 and data == b"\0" * offset + FAILURE.encode() + b"\n"


def test_the_follower_drops_the_run_and_the_line_parses(tmp_path: Path) -> None:
    log = tmp_path / "maillog"
    logs: list[str] = []
    clock = Clock()
    f = make([str(log)], clock, logs)
    offset = copytruncate_with_a_plain_writer(log, 2000)  # longer than the cap (65536)
    f.open(None)
    chunks = [i for i in poll(f, clock) if isinstance(i, RawChunk)]
    assert [line for c in chunks for line in c.items] == [FAILURE]
    [chunk] = chunks
    assert chunk.offsets == [offset] and chunk.tags == {0: (TAG_NUL_SKIPPED,)}
    parser = make_parser(chunk.origin, ParseContext("UTC"))
    [doc] = parser.parse(chunk) + parser.flush()
    assert doc["process"] == {"name": "sendmail", "pid": 812} and doc["tags"] == [TAG_NUL_SKIPPED]
    assert doc["message"].startswith("NOQUEUE: SYSERR(root)")
    assert f.counters["nul_bytes_skipped"] == offset
    said = [m for m in logs if "NUL" in m]
    assert said == [f"shipper: {log}: dropped a run of {offset:,} NUL bytes before the line at byte {offset:,} (the "
                    "line is tagged nul_bytes_skipped). A writer that does not open the file in append mode leaves "
                    "such a run after logrotate's copytruncate: open it with O_APPEND, or rotate with create instead "
                    "of copytruncate"]


def test_replay_recognises_the_failure_after_the_run(env: Env, tmp_path: Path) -> None:
    log = tmp_path / "maillog"
    copytruncate_with_a_plain_writer(log, 3000)
    for workers in ("0", "2"):
        out = tmp_path / f"out{workers}.ndjson"
        assert main(["replay", str(log), "--year", "2017", "--timezone", "UTC", "--workers", workers,
                     "--output", "ndjson", "-o", str(out)], env) == 0
        [doc] = [json.loads(line) for line in out.read_text().splitlines()]
        assert "\0" not in doc["message"] and TAG_NUL_SKIPPED in doc["tags"] and "unparsed" not in doc["tags"]
        assert doc["rootcause"]["signature"], doc


def test_the_daemon_stores_the_line_recognised_and_says_so(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "maillog"
    cfg = write_config(tmp_path / "shipper.yml", {
        "state_dir": str(tmp_path / "state"),
        "inputs": [{"type": "file", "paths": [str(log)], "flush_after": "300ms", "scan_interval": "200ms"}],
        "parse": {"timezone": "UTC", "year": 2017},
        "run": {"batch_wait": "100ms"},
    })
    fd = os.open(log, os.O_WRONLY | os.O_CREAT, 0o644)  # the writer: no O_APPEND
    with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
        os.write(fd, before(500).encode())
        wait_for(lambda: len(rows(tmp_path)) >= 500, 60, "the old content stored")
        os.truncate(log, 0)  # copytruncate (no copy matched here: a gap is said, as before)
        time.sleep(0.5)
        os.write(fd, (FAILURE + "\n").encode())
        os.close(fd)
        failure = wait_for(lambda: [r for r in rows(tmp_path) if "SYSERR" in r[0]], 60, "the failure stored")
        assert daemon.stop() == 0
    [(message, signature, unparsed, doc)] = failure
    assert message.startswith("NOQUEUE: SYSERR(root)") and signature and unparsed == 0
    assert TAG_NUL_SKIPPED in json.loads(doc)["tags"]
    assert "NUL bytes before the line at byte" in daemon.output()


def rows(tmp_path: Path) -> list[tuple[str, str | None, int, str]]:
    db = tmp_path / "state" / "events.db"
    if not db.exists():
        return []
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return list(con.execute("SELECT message, signature, unparsed, doc FROM events"))
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()
