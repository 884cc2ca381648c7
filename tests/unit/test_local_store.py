import sqlite3
import threading
from pathlib import Path

import pytest

from shipper.errors import OutputError
from shipper.event import Batch
from shipper.sinks.local import LocalSink, LocalStore, encode_rows
from tests.helpers.local import recognised, store_of_schema, syslog_docs, write


def test_replaying_twice_stores_each_event_once(tmp_path: Path) -> None:
    db = tmp_path / "s" / "events.db"
    first = write(db, [syslog_docs(100)])
    second = write(db, [syslog_docs(100)])
    assert first.counters == {"stored": 100, "duplicates": 0}
    assert second.counters == {"stored": 0, "duplicates": 100}
    store = LocalStore(db)
    assert store.counts()["total"] == 100
    assert store.counts()["unparsed"] == 1
    store.close()


def test_round_trip_order_window_and_full_text(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    original = syslog_docs(10)
    write(db, [original[5:], original[:5]])
    store = LocalStore(db)
    back = list(store.iter_docs())
    assert [d["event"]["id"] for d in back] == [d["event"]["id"] for d in original]
    assert back[3] == original[3]
    window = list(store.iter_docs(since="2017-08-30T14:55:02.000000Z", until="2017-08-30T14:55:04.000000Z"))
    assert [d["message"] for d in window] == ["line 2", "line 3 cannot bind: Address already in use"]
    hits = store.search('"address already in use"')
    assert len(hits) == 5 and all("Address already in use" in d["message"] for d in hits)
    assert store.counts()["by_process"] == {"sendmail": 10}
    store.close()


def test_rows_hold_only_text_and_integers_and_carry_rootcause_columns_when_needed() -> None:
    # The sqlite3 module binds str and int cheaply; None and bytes cost an adapter lookup each.
    plain, unparsed, cause = syslog_docs(4)[1:]  # the first one is tagged unparsed
    unparsed["tags"] = ["unparsed"]
    del plain["host"]
    recognised(cause, "sendmail.bind_address_in_use", "inc1")
    rows = encode_rows([plain, unparsed, cause])
    assert [len(r) for r in rows] == [6, 9, 9]
    assert all(type(v) in (str, int) for r in rows for v in r)
    assert rows[0][2] == "" and rows[2][6:] == ("sendmail.bind_address_in_use", "inc1", 0)
    assert rows[1][6:] == ("", "", 1)


def test_kinds_mixed_in_one_second_keep_their_order_and_columns(tmp_path: Path) -> None:
    docs = syslog_docs(12)
    for d in docs:
        d["@timestamp"] = "2017-08-30T14:55:47.000000Z"
    docs[1]["tags"] = ["unparsed"]
    for i in (3, 4, 9):
        recognised(docs[i], "sendmail.bind_address_in_use", "inc1" if i < 9 else None)
    recognised(docs[7], "systemd.unit_failed", "inc2")
    del docs[5]["host"]
    db = tmp_path / "events.db"
    sink = write(db, [docs, docs[2:8]])  # the second batch: all duplicates, of every kind
    assert sink.counters == {"stored": 12, "duplicates": 6}
    store = LocalStore(db)
    assert [d["event"]["id"] for d in store.iter_docs()] == [d["event"]["id"] for d in docs]
    assert list(store.iter_docs()) == docs
    assert [d["event"]["id"] for d in store.iter_docs(only_recognised=True)] == [docs[i]["event"]["id"] for i in (3, 4, 7, 9)]
    assert [d["event"]["id"] for d in store.iter_docs(incidents=["inc2"])] == [docs[7]["event"]["id"]]
    counts = store.counts()
    assert (counts["total"], counts["unparsed"], counts["recognised"]) == (12, 2, 4)
    assert counts["by_host"] == {"gorp": 11, "-": 1}
    columns = store.db.execute("SELECT host, signature, incident, unparsed FROM events ORDER BY rowid").fetchall()
    assert columns[0] == ("gorp", None, None, 1) and columns[2] == ("gorp", None, None, 0)
    assert columns[5][0] is None and columns[9] == ("gorp", "sendmail.bind_address_in_use", None, 0)
    store.close()


def test_each_batch_is_acknowledged_once_committed_on_the_callers_thread(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    seen: list[tuple[int, int, int]] = []  # (seq, rows another connection sees, the acknowledging thread)

    def ack(seq: int) -> None:  # another connection, as another process would read the store
        con = sqlite3.connect(db)
        seen.append((seq, con.execute("SELECT count(*) FROM events").fetchone()[0], threading.get_ident()))
        con.close()

    docs = syslog_docs(30)
    sink = LocalSink(db)
    sink.open(ack)
    for i in range(3):
        sink.write(Batch(docs[i * 10 : (i + 1) * 10], seq=i))
    sink.flush()
    sink.close()
    assert [seq for seq, _, _ in seen] == [0, 1, 2]
    assert all(rows >= 10 * (seq + 1) for seq, rows, _ in seen)  # batches written together commit together
    assert {thread for _, _, thread in seen} == {threading.get_ident()}


def test_close_without_flush_commits_what_was_written(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    acked: list[int] = []
    sink = LocalSink(db)
    sink.open(acked.append)
    for i in range(3):
        sink.write(Batch(syslog_docs(10, start=10 * i), seq=i))
    sink.close()  # no acknowledgement is owed without flush; nothing written is lost either
    assert acked == list(range(len(acked)))
    store = LocalStore(db, create=False)
    assert store.counts()["total"] == 30
    store.close()


def test_a_store_of_another_schema_is_refused_with_a_hint(tmp_path: Path) -> None:
    db = store_of_schema(tmp_path / "old.db", "1")
    with pytest.raises(OutputError, match="another version of shipper") as err:
        LocalStore(db)
    assert "--store NEW.db" in str(err.value)


SCHEMA_2 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE events (rowid INTEGER PRIMARY KEY, id TEXT NOT NULL, ts TEXT NOT NULL, host TEXT, process TEXT,
    unit TEXT, dataset TEXT, signature TEXT, incident TEXT, unparsed INTEGER NOT NULL DEFAULT 0,
    message TEXT NOT NULL, doc BLOB NOT NULL);
CREATE UNIQUE INDEX events_second_id ON events (substr(ts, 1, 19), id);
CREATE INDEX events_signature ON events (signature) WHERE signature IS NOT NULL;
CREATE INDEX events_incident ON events (incident) WHERE incident IS NOT NULL;
CREATE VIRTUAL TABLE events_fts USING fts5 (message, content='events', content_rowid='rowid');
INSERT INTO meta VALUES ('schema', '2');
INSERT INTO events (id, ts, message, doc) VALUES ('x', '2017-08-30T14:55:47.000000Z', 'hello', X'7B7D');
"""


def test_a_store_written_by_schema_2_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    db = tmp_path / "v2.db"
    con = sqlite3.connect(db)
    con.executescript(SCHEMA_2)
    con.close()

    def objects() -> list[tuple[str, str]]:
        con = sqlite3.connect(db)
        try:
            return con.execute("SELECT name, sql FROM sqlite_schema ORDER BY name").fetchall()
        finally:
            con.close()

    before = objects()
    with pytest.raises(OutputError, match=r"another version of shipper \(schema 2\)") as err:
        LocalStore(db, create=False)
    assert "this version writes schema 3" in str(err.value)
    assert objects() == before


def test_a_database_of_something_else_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE notes (text TEXT)")
    con.close()
    with pytest.raises(OutputError, match="schema unknown"):
        LocalStore(db)


def query_plan(db: Path, sql: str, args: tuple[str, ...] = ()) -> str:
    """SQLite's plan for ``sql`` on a store of ten documents."""
    write(db, [syslog_docs(10)])
    store = LocalStore(db)
    try:
        return " ".join(str(r[-1]) for r in store.db.execute("EXPLAIN QUERY PLAN " + sql, args))
    finally:
        store.close()


def test_time_window_uses_the_second_id_index(tmp_path: Path) -> None:
    plan = query_plan(tmp_path / "events.db", "SELECT doc FROM events WHERE substr(ts, 1, 19) >= substr(?, 1, 19) AND ts >= ?",
                      ("2017-08-30T14:55:02.000000Z",) * 2)
    assert "events_second_id" in plan


def test_recognised_events_are_read_through_their_own_index(tmp_path: Path) -> None:
    plan = query_plan(tmp_path / "events.db",
                      "SELECT doc FROM events WHERE (signature IS NOT NULL OR incident IS NOT NULL) ORDER BY ts, rowid")
    assert "events_recognised" in plan and "TEMP B-TREE" not in plan
