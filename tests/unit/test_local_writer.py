"""The local sink's writer thread: failures reach the caller, nothing unwritten is acknowledged,
and a stuck store holds the caller after a bounded number of batches."""

import sqlite3
import threading
from pathlib import Path

import pytest

from shipper.errors import OutputError
from shipper.event import Batch
from shipper.sinks.local import LocalSink, LocalStore
from shipper.sinks.local_writer import DEPTH
from tests.helpers.local import syslog_docs


def ids(docs: list[dict[str, dict[str, str]]]) -> set[str]:
    return {d["event"]["id"] for d in docs}


def test_a_failed_transaction_is_never_acknowledged_and_its_error_reaches_the_caller(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    LocalStore(db).close()
    con = sqlite3.connect(db)  # a real SQLite failure on the third batch's rows
    con.execute("CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.message = 'line 24'"
                " BEGIN SELECT RAISE(ABORT, 'the disk says no'); END")
    con.commit()
    con.close()
    docs = syslog_docs(50)
    acked: list[int] = []
    sink = LocalSink(db)
    sink.open(acked.append)
    with pytest.raises(OutputError, match=r"cannot write to the local store .*events\.db: the disk says no"):
        for i in range(5):
            sink.write(Batch(docs[i * 10 : (i + 1) * 10], seq=i))
        sink.flush()
    with pytest.raises(OutputError, match="the disk says no"):  # and again: nothing more is written
        sink.write(Batch(syslog_docs(5, host="later"), seq=5))
    sink.close()
    assert acked == list(range(len(acked))) and len(acked) <= 2
    store = LocalStore(db, create=False)
    stored = ids(list(store.iter_docs()))
    store.close()
    assert ids(docs[: 10 * len(acked)]) <= stored  # what was acknowledged is stored
    assert docs[24]["event"]["id"] not in stored and ids(docs[20:]).isdisjoint(stored)


def test_a_locked_store_holds_the_caller_after_a_bounded_number_of_batches(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    LocalStore(db).close()
    lock = sqlite3.connect(db, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # another writer holds the store (the store waits up to 5 s)
    docs = syslog_docs(2 * DEPTH + 2)  # more than the queue and the thread's transaction hold
    acked: list[int] = []
    sink = LocalSink(db)
    sink.open(acked.append)

    def write_all() -> None:
        for i, d in enumerate(docs):
            sink.write(Batch([d], seq=i))

    caller = threading.Thread(target=write_all)
    caller.start()
    caller.join(0.5)
    try:
        assert caller.is_alive() and acked == []
    finally:
        lock.execute("ROLLBACK")
        lock.close()
        caller.join(10)
    assert not caller.is_alive()
    sink.flush()
    sink.close()
    assert acked == list(range(len(docs))) and sink.counters == {"stored": len(docs), "duplicates": 0}
