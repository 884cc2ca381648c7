"""`shipper report -o` never writes the page over the store it reads (nor over SQLite's files beside it)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shipper.env import Env
from shipper.errors import ExitCode
from tests.helpers.browser import replay, report, text

DEMO = Path(__file__).resolve().parents[2] / "demo" / "logs"


@pytest.fixture
def store(tmp_path: Path, env: Env) -> Path:
    return replay([DEMO], tmp_path / "d.db", env)


def _refused(store: Path, out: Path, env: Env) -> None:
    before = store.read_bytes()
    assert report(store, out, env) == ExitCode.USAGE
    assert "the report would overwrite it" in text(env.stderr)
    assert store.read_bytes() == before


@pytest.mark.parametrize("name", ["d.db", "d.db-wal", "d.db-shm", "d.db-journal"])
def test_the_store_and_its_sqlite_files_are_refused_as_output(store: Path, env: Env, name: str) -> None:
    out = store.parent / name
    _refused(store, out, env)
    assert name == "d.db" or not out.exists()  # nothing was written there either


def test_the_store_through_a_link_or_another_path_is_refused(store: Path, env: Env) -> None:
    link = store.parent / "link.db"
    link.symlink_to(store)
    _refused(store, link, env)
    _refused(link, store, env)  # the store named by its link, the page by the real name
    _refused(link, store.parent / "d.db-wal", env)  # SQLite names the -wal after the real file
    os.link(store, store.parent / "hard.db")
    _refused(store, store.parent / "hard.db", env)
    _refused(store, store.parent / ".." / store.parent.name / "d.db", env)
    assert report(store, store.parent / "d.db.html", env) == ExitCode.OK  # a name that only starts like it is fine

