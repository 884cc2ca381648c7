"""An SQLite database among a replay's inputs (the store of an earlier `replay --store DIR/s.db DIR`)
is no log: its pages were read as text, dozens of `unparsed` events. In a directory it is left out
with its -wal and -shm files, and a line names it; named (or on stdin) it is refused (exit 4) with
the command that reads a store."""

from __future__ import annotations

import gzip
import io
import shutil
import sqlite3
from pathlib import Path

from shipper.cli import main
from shipper.env import Env
from shipper.errors import ExitCode
from shipper.sources.sniff import is_sqlite, sniff

DEMO_LOGS = Path(__file__).resolve().parents[2] / "demo" / "logs"


def _err(env: Env) -> str:
    return env.stderr.getvalue()  # type: ignore[attr-defined]


def _store_in(directory: Path) -> Path:
    """A real shipper store in ``directory``, from a replay of the demo logs there."""
    shutil.copytree(DEMO_LOGS, directory)
    store = directory / "s.db"
    assert main(["replay", "--quiet", "--store", str(store), "--year", "2017", "--timezone", "UTC", str(directory)],
                Env(stdin=io.BytesIO(), stdout=io.StringIO(), stderr=io.StringIO(), environ={"TZ": "UTC"})) == 0
    return store


def _summary(env: Env) -> str:
    return next(line for line in _err(env).splitlines() if "entries read" in line)


def test_sniff_tells_an_sqlite_database(tmp_path: Path) -> None:
    db = tmp_path / "other.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("create table t (x)")
    conn.close()
    assert is_sqlite(db.read_bytes()[:4096])
    assert not is_sqlite(b"SQLite format 3 is a phrase in a log line\n")
    assert not is_sqlite((DEMO_LOGS / "maillog").read_bytes())
    assert sniff(b"SQLite format 3\0") == "syslog"  # (sniff alone would read it as text: open.py asks is_sqlite)


def test_a_store_in_a_replayed_directory_is_left_out_and_named(env: Env, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    store = _store_in(logs)
    (logs / "s.db-wal").write_bytes(b"\x37\x7f\x06\x82" + bytes(28))  # a WAL left beside it (a crash)
    clean = tmp_path / "clean.db"
    assert main(["replay", "--store", str(clean), "--year", "2017", "--timezone", "UTC", str(DEMO_LOGS)], env) == 0
    expected = _summary(env).split("; ")[:2]  # entries read from N inputs; events (parsed, unparsed)
    env.stderr = io.StringIO()

    again = tmp_path / "again.db"
    assert main(["replay", "--store", str(again), "--year", "2017", "--timezone", "UTC", str(logs)], env) == 0
    err = _err(env)
    assert _summary(env).split("; ")[:2] == expected  # no unparsed lines from the store's pages
    assert " 0 unparsed" in _summary(env)
    note = [line for line in err.splitlines() if "SQLite" in line]
    assert note == [f"replay: left out an SQLite database found in the directories replayed (not logs: a shipper "
                    f"store, or another program's database): {store}; `shipper causes --store FILE` reads a "
                    "shipper store"]


def test_two_databases_are_named_on_one_line_and_quiet_says_nothing(env: Env, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    store = _store_in(logs)
    (logs / "copy.db.gz").write_bytes(gzip.compress(store.read_bytes()))  # compressed: recognised by content
    out = tmp_path / "o.nd"
    assert main(["replay", "--output", "ndjson", "-o", str(out), "--year", "2017", str(logs)], env) == 0
    assert "left out 2 SQLite databases found in the directories replayed" in _err(env)
    assert f"{logs / 'copy.db.gz'}, {store};" in _err(env)
    env.stderr = io.StringIO()
    assert main(["replay", "--quiet", "--output", "ndjson", "-o", str(out), "--year", "2017", str(logs)], env) == 0
    assert _err(env) == ""


def test_a_store_named_as_an_input_or_on_stdin_is_refused(env: Env, tmp_path: Path) -> None:
    store = _store_in(tmp_path / "logs")
    out = tmp_path / "o.nd"
    assert main(["replay", "--output", "ndjson", "-o", str(out), str(store)], env) == ExitCode.INPUT
    assert f"cannot read {store}: it is an SQLite database, not a log" in _err(env)
    assert (f"this is a shipper store or another SQLite database: use `shipper causes --store {store}` to read a "
            "store") in _err(env)
    assert not out.exists()
    env.stdin = io.BytesIO(store.read_bytes())
    assert main(["replay", "--output", "ndjson", "-o", str(out), "-"], env) == ExitCode.INPUT
    assert "cannot read stdin: it is an SQLite database" in _err(env) and "--store FILE" in _err(env)
    assert not out.exists()
