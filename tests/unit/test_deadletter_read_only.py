"""`shipper deadletter list` only reads the dead letter (SQLite's mode=ro): it creates no file, no
table and changes no byte; a file that is not a dead letter is named (exit 4), left as it was."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from shipper.errors import ExitCode
from shipper.sinks.deadletter import FILENAME, DeadLetterStore, Letter
from tests.helpers.es import make_env, out, run_command


def _list(state: Path) -> tuple[int, str, str]:
    env = make_env()
    rc = run_command("deadletter", ["list", "--state-dir", str(state)], env)
    return rc, out(env), env.stderr.getvalue()  # type: ignore[attr-defined]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _dead_letter(state: Path) -> Path:
    """A dead letter holding one refused document, written as the Elasticsearch sink writes it
    (which makes the state directory first)."""
    state.mkdir(parents=True, exist_ok=True)
    store = DeadLetterStore(state / FILENAME)
    try:
        store.add([Letter("2017-08-30T14:56:07.000000Z", "logs-shipper.syslog-default", "doc-1", 400,
                          "document_parsing_exception", "[1:42] failed to parse field [host]", b'{"host":"gorp"}')])
    finally:
        store.close()
    return state / FILENAME


def test_list_reads_the_dead_letter_without_changing_it(tmp_path: Path) -> None:
    path = _dead_letter(tmp_path / "state")
    before, mtime = _digest(path), path.stat().st_mtime_ns
    rc, stdout, _ = _list(path.parent)
    assert rc == ExitCode.OK
    assert "doc-1  400  [1:42] failed to parse field [host]" in stdout and "1 of 1 dead-lettered document shown" in stdout
    assert _digest(path) == before and path.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in path.parent.iterdir()) == [FILENAME]  # no journal file either


def test_list_creates_no_table_in_a_database_that_is_not_a_dead_letter(tmp_path: Path) -> None:
    path = tmp_path / FILENAME
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE notes (text TEXT)")
    db.close()
    before = _digest(path)
    rc, stdout, stderr = _list(tmp_path)
    assert rc == ExitCode.INPUT and stdout == ""
    assert f"{path} is not a dead letter (a database without its deadletter table)" in stderr and "--state-dir" in stderr
    assert _digest(path) == before
    assert sqlite3.connect(path).execute("SELECT name FROM sqlite_schema").fetchall() == [("notes",)]


def test_a_missing_dead_letter_is_empty_and_is_not_created(tmp_path: Path) -> None:
    state = tmp_path / "state"
    rc, stdout, _ = _list(state)
    assert rc == ExitCode.OK
    assert f"the dead letter {state / FILENAME} is empty: Elasticsearch has refused no document" in stdout
    assert not state.exists()  # neither the file nor its directory


def test_an_empty_file_is_an_empty_dead_letter_and_stays_empty(tmp_path: Path) -> None:
    path = tmp_path / FILENAME
    path.touch()
    rc, stdout, _ = _list(tmp_path)
    assert rc == ExitCode.OK and "is empty: Elasticsearch has refused no document" in stdout
    assert path.stat().st_size == 0
