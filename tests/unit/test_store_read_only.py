"""`shipper causes` and `shipper report` only read the store: they create, migrate and write
nothing, and a store they cannot read is an input error (exit 4) that says what to do."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from shipper.cli import main
from shipper.env import Env
from shipper.errors import ExitCode
from tests.helpers.browser import replay, report, text
from tests.helpers.local import store_of_schema

DEMO = Path(__file__).resolve().parents[2] / "demo" / "logs"


def causes(store: Path, env: Env) -> int:
    return main(["causes", "--store", str(store)], env)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_empty_file_is_not_turned_into_a_store_and_a_store_is_read_as_it_is(tmp_path: Path, env: Env) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    assert causes(empty, env) == ExitCode.INPUT
    assert report(empty, tmp_path / "r.html", env) == ExitCode.INPUT
    assert empty.stat().st_size == 0 and sorted(p.name for p in tmp_path.iterdir()) == ["empty.db"]
    assert f"{empty} is not a local store (an empty file)" in text(env.stderr)
    store = replay([DEMO], tmp_path / "demo.db", env)
    before = _digest(store)
    assert causes(store, env) == ExitCode.OK and report(store, tmp_path / "r.html", env) == ExitCode.OK
    assert "sendmail.service failed (exit 71, EX_OSERR)" in text(env.stdout)
    assert _digest(store) == before


@pytest.mark.parametrize("command", ["causes", "report"])
def test_a_missing_store_is_an_input_that_cannot_be_read(tmp_path: Path, env: Env, command: str) -> None:
    missing = tmp_path / "none" / "events.db"
    code = causes(missing, env) if command == "causes" else report(missing, tmp_path / "r.html", env)
    assert code == ExitCode.INPUT
    assert f"no local store at {missing}" in text(env.stderr) and "shipper replay" in text(env.stderr)
    assert not missing.parent.exists()  # not even its directory is made


def test_a_file_that_is_not_a_database_is_named_and_left_alone(tmp_path: Path, env: Env) -> None:
    page = tmp_path / "d.db"
    page.write_text("<!doctype html>\n" * 100)
    assert causes(page, env) == ExitCode.INPUT
    assert f"{page} is not a local store: file is not a database" in text(env.stderr)
    assert page.read_text() == "<!doctype html>\n" * 100


def test_a_database_of_something_else_gets_no_tables(tmp_path: Path, env: Env) -> None:
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE notes (text TEXT)")
    con.close()
    before = _digest(other)
    assert causes(other, env) == ExitCode.INPUT
    assert "is not a local store (a database without shipper's tables)" in text(env.stderr)
    assert _digest(other) == before


def test_a_store_of_another_version_is_an_input_error(tmp_path: Path, env: Env) -> None:
    old = store_of_schema(tmp_path / "old.db", "2")
    assert causes(old, env) == ExitCode.INPUT
    assert "written by another version of shipper (schema 2)" in text(env.stderr)

