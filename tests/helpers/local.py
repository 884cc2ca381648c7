"""Documents and checks for the local store's tests (`tests/unit/test_local_*.py`), and what a daemon stored."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

from shipper.event import Batch, Doc
from shipper.ids import IdAssigner
from shipper.sinks.local import LocalSink


def syslog_docs(n: int, host: str = "gorp", *, start: int = 0) -> list[Doc]:
    """``n`` sendmail events with ids, one per second from ``start`` (mod 60); odd ones say "cannot bind";
    the first is tagged unparsed."""
    out = [
        {
            "@timestamp": f"2017-08-30T14:55:{i % 60:02d}.000000Z",
            "message": f"line {i} cannot bind: Address already in use" if i % 2 else f"line {i}",
            "event": {"dataset": "syslog", "kind": "event"},
            "host": {"name": host},
            "process": {"name": "sendmail", "pid": 24097},
        }
        for i in range(start, start + n)
    ]
    out[0]["tags"] = ["unparsed"]
    IdAssigner().assign(out)
    return out


def recognised(doc: Doc, signature: str, incident: str | None) -> Doc:
    """``doc`` as the recogniser and the linker leave it."""
    doc["rootcause"] = {"signature": signature, "role": "cause", "title": signature}
    if incident is not None:
        doc["rootcause"]["incident"] = incident
    return doc


def write(path: Path, batches: list[list[Doc]]) -> LocalSink:
    """Each list through a `LocalSink` as one batch, flushed and closed; checks every batch was acked in order."""
    acked: list[int] = []
    sink = LocalSink(path)
    sink.open(acked.append)
    for i, d in enumerate(batches):
        sink.write(Batch(d, seq=i))
    sink.flush()
    sink.close()
    assert acked == list(range(len(batches)))
    return sink


def text_index_matches_table(db: sqlite3.Connection) -> bool:
    """FTS5's check of its index against the content table: every row indexed once, nothing else."""
    try:
        db.execute("INSERT INTO events_fts (events_fts, rank) VALUES ('integrity-check', 1)")
    except sqlite3.DatabaseError:
        return False
    return True


def store_of_schema(path: Path, version: str) -> Path:
    """A database at ``path`` that says it is a store of schema ``version`` (and holds nothing else)."""
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    con.execute("INSERT INTO meta VALUES ('schema', ?)", (version,))
    con.commit()
    con.close()
    return path


def stored(tmp_path: Path) -> Counter[str]:
    """The messages a daemon with ``state_dir`` ``tmp_path/state`` stored in its local store, counted
    (read-only: the daemon may be writing; nothing yet: empty)."""
    db = tmp_path / "state" / "events.db"
    if not db.exists():
        return Counter()
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return Counter(m for (m,) in con.execute("SELECT message FROM events"))
    except sqlite3.OperationalError:
        return Counter()
    finally:
        con.close()
