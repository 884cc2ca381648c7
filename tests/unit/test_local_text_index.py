"""The full-text index follows the table in steps; searches and flushes catch it up."""

from pathlib import Path

import pytest

import shipper.sinks.local as local
from shipper.sinks.local import LocalStore
from tests.helpers.local import syslog_docs, text_index_matches_table, write


def indexed(store: LocalStore) -> tuple[int, int]:
    """(rows matched by the index for a term every message has, the recorded mark)."""
    (hits,) = store.db.execute("SELECT count(*) FROM events_fts WHERE events_fts MATCH 'line'").fetchone()
    (mark,) = store.db.execute("SELECT value FROM meta WHERE key = 'indexed'").fetchone()
    return hits, int(mark)


def test_a_search_finds_rows_stored_since_the_last_step(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "events.db")
    assert store.insert(syslog_docs(20)) == 20
    assert indexed(store) == (0, 0)  # fewer than FTS_STEP rows: not indexed yet
    assert len(store.search('"cannot bind"')) == 10
    assert indexed(store) == (20, 20)
    assert store.insert(syslog_docs(20, start=20)) == 20
    assert [d["message"] for d in store.search("line AND 25")] == ["line 25 cannot bind: Address already in use"]
    assert text_index_matches_table(store.db)
    store.close()


def test_inserts_index_in_steps_and_the_sink_flush_completes_the_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "FTS_STEP", 25)
    db = tmp_path / "events.db"
    docs = syslog_docs(60)
    store, reader = LocalStore(db), LocalStore(db)
    marks = []
    for i in range(6):
        store.insert(docs[i * 10 : (i + 1) * 10])
        marks.append(indexed(reader)[1])
    assert marks == [0, 0, 30, 30, 30, 60]  # a step when 25 or more rows wait, inside that insert's transaction
    assert store.insert(docs[:10]) == 0  # duplicates: nothing to index
    store.insert(syslog_docs(5, host="mx1"))
    assert indexed(reader) == (60, 60)
    store.close()
    sink = write(db, [syslog_docs(3, host="mx2"), syslog_docs(40, host="mx3")])  # a step, then flush's catch-up
    assert sink.counters == {"stored": 43, "duplicates": 0}
    assert indexed(reader) == (108, 108) and text_index_matches_table(reader.db)
    reader.close()


def test_two_writers_share_the_mark_and_index_each_row_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "FTS_STEP", 15)
    db = tmp_path / "events.db"
    one, two = LocalStore(db), LocalStore(db)
    for i in range(8):
        (one if i % 2 else two).insert(syslog_docs(10, host=f"h{i}"))
    two.update_text_index()
    assert indexed(one) == (80, 80) and text_index_matches_table(one.db)
    assert len(one.search("line", limit=1000)) == 80
    one.close()
    two.close()


def test_replaying_twice_leaves_one_index_entry_per_row(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    write(db, [syslog_docs(50)])
    write(db, [syslog_docs(50), syslog_docs(10, host="mx1")])
    store = LocalStore(db, create=False)
    assert indexed(store) == (60, 60) and text_index_matches_table(store.db)
    store.close()
