"""Lines and journal entries that differ only in bytes that are not UTF-8 get different ids.

Their text is stored with U+FFFD for those bytes, but the id is made of the bytes themselves
(`shipper.ids`): replaying a file with ``caf\\xe9`` and then one with ``caf\\xe8`` (otherwise the
same line, the same second) stores two events, in one process and with worker processes alike;
UTF-8 lines keep the ids they always had. Real `shipper replay` processes, real files, the real
local store.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from hashlib import blake2b
from pathlib import Path

import pytest

from tests.helpers.daemon import DaemonProcess, wait_for, write_config
from tests.helpers.journal import export_entry, make_journal

WORKERS = ["0", "2"]
BAD = [b"\xe9", b"\xe8"]  # the only difference between the two copies of a line


def _replay(tmp_path: Path, workers: str, *args: str, year: str = "2024") -> str:
    """Run ``shipper replay`` (UTC); its stderr (the summary)."""
    proc = subprocess.run(
        [sys.executable, "-m", "shipper", "replay", "--timezone", "UTC", "--year", year, "--workers", workers, *args],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env={**os.environ, "HOME": str(tmp_path), "TZ": "UTC"},
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


def _ndjson(tmp_path: Path, workers: str, path: Path) -> list[dict]:
    out = tmp_path / f"{path.name}-{workers}.ndjson"
    _replay(tmp_path, workers, "--quiet", "--output", "ndjson", "-o", str(out), str(path))
    return [json.loads(line) for line in out.read_bytes().splitlines()]


def _stored(tmp_path: Path, workers: str, store: Path, *paths: Path, fmt: str = "auto", year: str = "2024") -> tuple[int, int]:
    """Replay into the local store ``store``: (duplicates, stored) from the summary."""
    err = _replay(tmp_path, workers, "--output", "local", "--store", str(store), "--format", fmt, *map(str, paths), year=year)
    m = re.search(r"([\d,]+) duplicates?, ([\d,]+) stored", err)
    assert m is not None, err
    return int(m.group(1).replace(",", "")), int(m.group(2).replace(",", ""))


def _id_of(stamp: str, message: bytes) -> str:
    """The id of the first ``gorp sshd[7]`` event with ``message`` in the second of ``stamp``:
    an undecodable byte counts as surrogateescape keeps it (0xE9 as U+DCE9), in UTF-8."""
    key = f"gorp\x1f{stamp[:19]}\x1fsshd\x1f7\x1f{message.decode('utf-8', 'surrogateescape')}"
    return blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def _syslog_file(path: Path, bad: bytes) -> list[int]:
    """About 1 MB of RFC 3164 lines (blocks of 256 KiB: several worker jobs), every 97th with
    ``caf<bad> au lait``; the indices of those."""
    lines, marked = [], []
    for i in range(12_000):
        stamp = f"Aug 30 {10 + i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}".encode()
        if i % 97 == 5:
            marked.append(i)
            lines.append(stamp + b" gorp sshd[7]: caf" + bad + b" au lait, line " + str(i).encode())
        else:
            lines.append(stamp + b" gorp sshd[7]: Accepted publickey for deploy from 192.0.2.1 port " + str(i).encode())
    path.write_bytes(b"\n".join(lines) + b"\n")
    return marked


@pytest.mark.parametrize("workers", WORKERS)
def test_lines_differing_only_in_undecodable_bytes_are_stored_apart(tmp_path: Path, workers: str) -> None:
    first, second = tmp_path / "a.log", tmp_path / "b.log"
    marked = _syslog_file(first, BAD[0])
    assert _syslog_file(second, BAD[1]) == marked
    store = tmp_path / "events.db"
    assert _stored(tmp_path, workers, store, first) == (0, 12_000)
    # Only the lines with the other byte are new.
    assert _stored(tmp_path, workers, store, second) == (12_000 - len(marked), len(marked))


def test_the_id_is_made_of_the_bytes_and_the_same_with_workers(tmp_path: Path) -> None:
    first, second = tmp_path / "a.log", tmp_path / "b.log"
    marked = _syslog_file(first, BAD[0])
    _syslog_file(second, BAD[1])
    docs = {(p.name, w): _ndjson(tmp_path, w, p) for p in (first, second) for w in WORKERS}
    assert docs["a.log", "0"] == docs["a.log", "2"] and docs["b.log", "0"] == docs["b.log", "2"]
    a, b = docs["a.log", "0"], docs["b.log", "0"]
    for i, (x, y) in enumerate(zip(a, b)):
        # The same document as stored (U+FFFD for the byte), but for the id.
        assert {**x, "event": {}, "log": {}} == {**y, "event": {}, "log": {}}
        assert (x["event"]["id"] == y["event"]["id"]) == (i not in marked), i
    i = marked[0]
    assert a[i]["message"] == f"caf\ufffd au lait, line {i}" and a[i]["tags"] == ["invalid_utf8"]
    assert a[i]["event"]["id"] == _id_of(a[i]["@timestamp"], b"caf\xe9 au lait, line %d" % i)
    # A UTF-8 line's id is what it always was: its key's UTF-8.
    valid = f"gorp\x1f2024-08-30T10:00:00\x1fsshd\x1f7\x1fAccepted publickey for deploy from 192.0.2.1 port 0"
    assert a[0]["event"]["id"] == blake2b(valid.encode(), digest_size=16).hexdigest() == "50b2434ef4d398404676f8eb9e272f8e"


@pytest.mark.parametrize("workers", WORKERS)
def test_twins_are_counted_by_their_bytes(tmp_path: Path, workers: str) -> None:
    """Identical lines in one second stay distinct events, whatever their bytes: the count of
    twins is kept per content, the bytes included."""
    line = b"Aug 30 14:55:47 gorp sshd[7]: caf%s au lait"
    same, other = tmp_path / "same.log", tmp_path / "other.log"
    same.write_bytes(b"\n".join([line % BAD[0], line % BAD[0]]) + b"\n")
    other.write_bytes(b"\n".join([line % BAD[0], line % BAD[1], line % BAD[1]]) + b"\n")
    ids = [d["event"]["id"] for d in _ndjson(tmp_path, workers, other)]
    assert len(set(ids)) == 3
    store = tmp_path / "events.db"
    assert _stored(tmp_path, workers, store, same) == (0, 2)
    # The first is one of those stored; the two with the other byte are the first two of their own.
    assert _stored(tmp_path, workers, store, other) == (1, 2)
    assert _stored(tmp_path, workers, store, other) == (3, 0)


@pytest.mark.parametrize("workers", WORKERS)
def test_journal_messages_differing_only_in_undecodable_bytes_are_stored_apart(tmp_path: Path, workers: str) -> None:
    fields = {"SYSLOG_IDENTIFIER": "sshd", "SYSLOG_PID": "7", "PRIORITY": "6", "_TRANSPORT": "syslog"}
    padding = b"".join(export_entry({**fields, "MESSAGE": f"entry {n}"}, seq=n) for n in range(1, 300))
    dumps = []
    for k, bad in enumerate(BAD):
        export = export_entry({**fields, "MESSAGE": b"caf" + bad + b" au lait"}) + padding
        make_journal(tmp_path / f"journal-{k}", export)
        dumps.append(tmp_path / f"dump-{k}.export")
        dumps[-1].write_bytes(export)
    store = tmp_path / "events.db"
    assert _stored(tmp_path, workers, store, tmp_path / "journal-0") == (0, 300)
    assert _stored(tmp_path, workers, store, tmp_path / "journal-1") == (299, 1)
    # The same entries from export dumps, and the first as its ForwardToSyslog line: the same ids.
    assert _stored(tmp_path, workers, store, *dumps, fmt="journal-export") == (600, 0)
    line = tmp_path / "messages"
    line.write_bytes(b"Aug 30 14:55:47 gorp sshd[7]: caf\xe9 au lait\n")
    assert _stored(tmp_path, workers, store, line, year="2017") == (1, 0)


def test_the_daemon_gives_the_ids_a_replay_gives(tmp_path: Path) -> None:
    """`shipper run` following a file: its events of lines with undecodable bytes are stored
    with U+FFFD and the ids of a replay (which then stores nothing again)."""
    logs = tmp_path / "logs"
    logs.mkdir()
    line = b"Aug 30 14:55:47 gorp sshd[7]: caf%s au lait\n"
    (logs / "messages.log").write_bytes(b"Aug 30 14:55:46 gorp sshd[7]: before\n" + line % BAD[0] + line % BAD[1])
    store = tmp_path / "state" / "events.db"
    cfg = write_config(tmp_path / "shipper.yml", {
        "state_dir": str(tmp_path / "state"), "inputs": [{"type": "file", "paths": [str(logs / "*.log")]}],
        "parse": {"timezone": "UTC", "year": 2024}, "run": {"batch_wait": "100ms", "status_interval": "1s"}})
    with DaemonProcess(cfg, tmp_path / "stderr.txt") as daemon:
        wait_for(lambda: len(_events(store)) == 3, 60, "3 events stored")
        assert daemon.stop() == 0
    events = _events(store)
    assert [m for _, m in events] == ["before", "caf\ufffd au lait", "caf\ufffd au lait"]
    assert [i for i, _ in events][1:] == [_id_of("2024-08-30T14:55:47", b"caf" + bad + b" au lait") for bad in BAD]
    assert _stored(tmp_path, "2", store, logs / "messages.log") == (3, 0)


def _events(store: Path) -> list[tuple[str, str]]:
    if not store.exists():
        return []
    con = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        return con.execute("SELECT id, message FROM events ORDER BY ts, rowid").fetchall()
    except sqlite3.OperationalError:  # the schema is not there yet
        return []
    finally:
        con.close()
