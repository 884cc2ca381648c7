"""An Elasticsearch JSON line nested deeper than orjson writes (254 levels; it reads 1,024), by a
value or by a kept key of many dots (`set_path` nests one level a dot), is an event tagged
``unparsed`` with its raw line as message: no output crashes on it (NDJSON, the local store,
Elasticsearch; the daemon), and the lines around it are events as before."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.fakees import FakeES
from tests.helpers.daemon import DaemonProcess, read_status, wait_for, write_config
from tests.helpers.es import err, make_env, run_command

STAMP = '"@timestamp":"2024-08-30T10:00:0%d.000Z"'
DEEP = [
    "{" + STAMP % 1 + ',"message":"x","elasticsearch.x":' + "[" * 300 + "]" * 300 + "}",  # a value
    "{" + STAMP % 2 + ',"message":"x","error.a' + ".a" * 300 + '":"v"}',  # a key of 300 dots
    "{" + STAMP % 3 + ',"message":' + "[" * 1000 + "]" * 1000 + "}",  # a message orjson reads
    "{" + STAMP % 4 + ',"type":"server","message":"m","stacktrace":[' + "[" * 1000 + "]" * 1000 + "]}",  # 7.x
]
# As deep as orjson writes: the document, "elasticsearch", "x", then 252 objects (254 levels).
DEEPEST = "{" + STAMP % 5 + ',"message":"deepest","elasticsearch.x":' + '{"a":' * 252 + "1" + "}" * 252 + "}"
LINES = ["{" + STAMP % 0 + ',"message":"before"}', *DEEP, DEEPEST, "{" + STAMP % 6 + ',"message":"after"}']


def _check(docs: list[dict[str, Any]]) -> None:
    """Every line is one event, in order; the deep ones are unparsed with their raw line."""
    assert [d["message"] for d in docs] == ["before", *DEEP, "deepest", "after"]
    for doc in docs:
        unparsed = doc["message"] in DEEP
        assert ("unparsed" in doc.get("tags", ())) == unparsed, doc["message"][:80]
    assert docs[-2]["elasticsearch"]["x"]["a"]["a"]["a"]["a"] is not None  # written whole
    assert len({d["event"]["id"] for d in docs}) == len(docs)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "es.json"
    path.write_text("\n".join(LINES) + "\n")
    return path


def _replay(log: Path, workers: str, *argv: str) -> None:
    env = make_env()
    code = run_command("replay", ["--format", "elasticsearch", "--timezone", "UTC", "--workers", workers, *argv,
                                  str(log)], env)
    assert code == 0, err(env)
    assert f"{len(LINES)} events ({len(LINES) - len(DEEP)} parsed, {len(DEEP)} unparsed)" in err(env), err(env)


@pytest.mark.parametrize("workers", ["0", "2"])
def test_ndjson(log: Path, tmp_path: Path, workers: str) -> None:
    written = tmp_path / "out.ndjson"
    _replay(log, workers, "--output", "ndjson", "-o", str(written))
    _check([json.loads(line) for line in written.read_text().splitlines()])


@pytest.mark.parametrize("workers", ["0", "2"])
def test_store(log: Path, tmp_path: Path, workers: str) -> None:
    store = tmp_path / "events.db"
    _replay(log, workers, "--store", str(store))
    db = sqlite3.connect(store)
    try:
        rows = db.execute("SELECT message, doc, unparsed FROM events ORDER BY ts, rowid").fetchall()
    finally:
        db.close()
    docs = [{**json.loads(doc), "message": message} for message, doc, _ in rows]
    assert [m for m, _, unparsed in rows if unparsed] == DEEP
    _check(docs)


@pytest.mark.parametrize("workers", ["0", "2"])
def test_elasticsearch(log: Path, es: FakeES, workers: str) -> None:
    _replay(log, workers, "--output", "es", "--es-url", es.url)
    docs = es.docs("logs-shipper.elasticsearch-default")
    _check(sorted(docs.values(), key=lambda d: (d["@timestamp"], d.get("log", {}).get("offset", 0))))


def test_daemon(log: Path, tmp_path: Path) -> None:
    shipped, state = tmp_path / "out.ndjson", tmp_path / "state"
    config = write_config(tmp_path / "shipper.yml", {
        "state_dir": str(state),
        "inputs": [{"type": "file", "paths": [str(log)], "format": "elasticsearch", "flush_after": "50ms"}],
        "output": {"ndjson": {"path": str(shipped)}}, "parse": {"timezone": "UTC"},
        "run": {"batch_wait": "50ms", "status_interval": "100ms", "stop_timeout": "5s"}})
    with DaemonProcess(config, tmp_path / "stderr.txt") as daemon:
        wait_for(lambda: read_status(state).get("shipped") == len(LINES), 60, f"{len(LINES)} events shipped")
        assert daemon.stop() == 0, daemon.output()
    _check([json.loads(line) for line in shipped.read_text().splitlines()])
