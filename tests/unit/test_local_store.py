from pathlib import Path

from shipper.event import Batch, IdAssigner
from shipper.sinks.local import LocalSink, LocalStore


def docs(n: int, host: str = "gorp") -> list[dict]:
    out = [
        {
            "@timestamp": f"2017-08-30T14:55:{i % 60:02d}.000000Z",
            "message": f"line {i} cannot bind: Address already in use" if i % 2 else f"line {i}",
            "event": {"dataset": "syslog", "kind": "event"},
            "host": {"name": host},
            "process": {"name": "sendmail", "pid": 24097},
        }
        for i in range(n)
    ]
    out[0]["tags"] = ["unparsed"]
    IdAssigner().assign(out)
    return out


def write(path: Path, batches: list[list[dict]]) -> LocalSink:
    acked: list[int] = []
    sink = LocalSink(path)
    sink.open(acked.append)
    for i, d in enumerate(batches):
        sink.write(Batch(d, seq=i))
    sink.flush()
    sink.close()
    assert acked == list(range(len(batches)))
    return sink


def test_replaying_twice_stores_each_event_once(tmp_path: Path) -> None:
    db = tmp_path / "s" / "events.db"
    first = write(db, [docs(100)])
    second = write(db, [docs(100)])
    assert first.counters == {"stored": 100, "duplicates": 0}
    assert second.counters == {"stored": 0, "duplicates": 100}
    store = LocalStore(db)
    assert store.counts()["total"] == 100
    assert store.counts()["unparsed"] == 1
    store.close()


def test_round_trip_order_window_and_full_text(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    original = docs(10)
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


def test_a_store_of_another_schema_is_refused_with_a_hint(tmp_path: Path) -> None:
    import sqlite3

    import pytest

    from shipper.errors import OutputError

    db = tmp_path / "old.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    con.execute("INSERT INTO meta VALUES ('schema', '1')")
    con.commit()
    con.close()
    with pytest.raises(OutputError, match="another version of shipper") as err:
        LocalStore(db)
    assert "--store NEW.db" in str(err.value)


def test_time_window_uses_the_second_id_index(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    write(db, [docs(10)])
    store = LocalStore(db)
    plan = " ".join(
        str(r[-1])
        for r in store.db.execute(
            "EXPLAIN QUERY PLAN SELECT doc FROM events WHERE substr(ts, 1, 19) >= substr(?, 1, 19) AND ts >= ?",
            ("2017-08-30T14:55:02.000000Z",) * 2,
        )
    )
    store.close()
    assert "events_second_id" in plan
