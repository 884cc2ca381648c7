"""The embedded default: a SQLite database (WAL) with a full-text index on ``message``.

Writes are idempotent: ``event.id`` is UNIQUE and inserted with ``INSERT OR IGNORE``, so replaying
the same archive twice stores every event once; the duplicates are counted. The document is stored
as orjson bytes without ``message`` (which has its own column, the content of the FTS index).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import orjson

from shipper.errors import OutputError
from shipper.event import TAG_UNPARSED, Batch, Doc
from shipper.sinks.base import Ack, Encode, items_of

SCHEMA_VERSION = "2"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    ts TEXT NOT NULL,
    host TEXT, process TEXT, unit TEXT, dataset TEXT,
    signature TEXT, incident TEXT,
    unparsed INTEGER NOT NULL DEFAULT 0,
    message TEXT NOT NULL,
    doc BLOB NOT NULL
);
-- Unique on (second, id) rather than on id alone: the id already hashes the second, so this is
-- the same constraint, but replayed events arrive nearly in time order and land at the right
-- edge of the index instead of at random places (3x faster inserts); it also serves time ranges.
CREATE UNIQUE INDEX IF NOT EXISTS events_second_id ON events (substr(ts, 1, 19), id);
CREATE INDEX IF NOT EXISTS events_signature ON events (signature) WHERE signature IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_incident ON events (incident) WHERE incident IS NOT NULL;
CREATE VIRTUAL TABLE IF NOT EXISTS events_fts USING fts5 (message, content='events', content_rowid='rowid');
"""

_INSERT = (
    "INSERT OR IGNORE INTO events (id, ts, host, process, unit, dataset, signature, incident, unparsed, message, doc)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def encode_rows(docs: list[Doc]) -> list[tuple[Any, ...]]:
    """The table rows of the documents (pure: a worker process may make them)."""
    return [_row(d) for d in docs]


def _row(doc: Doc, dumps: Any = orjson.dumps) -> tuple[Any, ...]:
    host = doc.get("host")
    proc = doc.get("process")
    unit = doc.get("systemd")
    rc = doc.get("rootcause")
    tags = doc.get("tags")
    body = {k: v for k, v in doc.items() if k != "message"}
    return (
        doc["event"]["id"],
        doc["@timestamp"],
        host.get("name") if host else None,
        proc.get("name") if proc else None,
        unit.get("unit") if unit else None,
        doc["event"].get("dataset"),
        rc.get("signature") if rc else None,
        rc.get("incident") if rc else None,
        1 if tags and TAG_UNPARSED in tags else 0,
        doc.get("message", ""),
        dumps(body),
    )


class LocalStore:
    """The SQLite store, for writing (the sink) and for reading (causes, report)."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = path
        if not create and not path.exists():
            raise OutputError(
                f"no local store at {path}", hint="replay some logs first (shipper replay FILE...) or pass --store PATH"
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA cache_size=-65536")  # 64 MiB of page cache
            self.db.execute("PRAGMA wal_autocheckpoint=10000")
            self.db.executescript(_SCHEMA)
            self.db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
            (version,) = self.db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        except (sqlite3.Error, OSError) as exc:
            raise OutputError(f"cannot open the local store {path}: {exc}") from None
        if version != SCHEMA_VERSION:
            self.db.close()
            raise OutputError(
                f"the local store {path} was written by another version of shipper (schema {version})",
                hint="replay into a new store (--store NEW.db); this version writes schema " + SCHEMA_VERSION,
            )

    def insert(self, docs: list[Doc]) -> int:
        """Stores the documents not stored yet, in one transaction; returns how many were new."""
        return self.insert_rows(encode_rows(docs))

    def insert_rows(self, rows: list[tuple[Any, ...]]) -> int:
        """Stores rows made by `encode_rows` not stored yet, in one transaction; returns how many were new."""
        db = self.db
        db.execute("BEGIN")
        try:
            before = db.execute("SELECT coalesce(max(rowid), 0) FROM events").fetchone()[0]
            db.executemany(_INSERT, rows)
            db.execute("INSERT INTO events_fts (rowid, message) SELECT rowid, message FROM events WHERE rowid > ?", (before,))
            added = db.execute("SELECT count(*) FROM events WHERE rowid > ?", (before,)).fetchone()[0]
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            db.execute("ROLLBACK")
            raise OutputError(f"cannot write to the local store {self.path}: {exc}") from None
        return int(added)

    def iter_docs(
        self,
        *,
        since: str | None = None,
        until: str | None = None,
        only_recognised: bool = False,
        incidents: list[str] | None = None,
    ) -> Iterator[Doc]:
        """Documents ordered by @timestamp (then by the order they were stored)."""
        where, args = self._window(since, until)
        if only_recognised:
            where.append("(signature IS NOT NULL OR incident IS NOT NULL)")
        if incidents is not None:
            where.append(f"incident IN ({','.join('?' * len(incidents))})")
            args.extend(incidents)
        sql = "SELECT message, doc FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        loads = orjson.loads
        for message, blob in self.db.execute(sql + " ORDER BY ts, rowid", args):
            doc = loads(blob)
            doc["message"] = message
            yield doc

    def search(self, query: str, *, limit: int = 100) -> list[Doc]:
        """Full-text search on message (SQLite FTS5 query syntax)."""
        rows = self.db.execute(
            "SELECT e.message, e.doc FROM events_fts f JOIN events e ON e.rowid = f.rowid"
            " WHERE events_fts MATCH ? ORDER BY e.ts LIMIT ?",
            (query, limit),
        )
        out = []
        for message, blob in rows:
            doc = orjson.loads(blob)
            doc["message"] = message
            out.append(doc)
        return out

    def counts(self, *, since: str | None = None, until: str | None = None) -> dict[str, Any]:
        where, args = self._window(since, until)
        cond = (" WHERE " + " AND ".join(where)) if where else ""
        total, unparsed, recognised = self.db.execute(
            f"SELECT count(*), coalesce(sum(unparsed), 0), count(signature) FROM events{cond}", args
        ).fetchone()

        def top(column: str) -> dict[str, int]:
            rows = self.db.execute(
                f"SELECT coalesce({column}, '-'), count(*) FROM events{cond} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20", args
            )
            return {str(k): int(n) for k, n in rows}

        return {
            "total": int(total),
            "unparsed": int(unparsed),
            "recognised": int(recognised),
            "by_host": top("host"),
            "by_process": top("process"),
        }

    @staticmethod
    def _window(since: str | None, until: str | None) -> tuple[list[str], list[Any]]:
        where: list[str] = []
        args: list[Any] = []
        if since:  # the first condition lets SQLite range-scan the (second, id) index
            where.append("substr(ts, 1, 19) >= substr(?, 1, 19) AND ts >= ?")
            args.extend((since, since))
        if until:
            where.append("substr(ts, 1, 19) <= substr(?, 1, 19) AND ts < ?")
            args.extend((until, until))
        return where, args

    def close(self) -> None:
        self.db.close()


class LocalSink:
    """Writes each batch into a `LocalStore` in one transaction and acknowledges it on commit."""

    name = "local"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.counters: Counter[str] = Counter()
        self._store: LocalStore | None = None
        self._ack: Ack | None = None

    def open(self, ack: Ack) -> None:
        self._ack = ack
        self._store = LocalStore(self.path)

    def encoder(self) -> Encode:
        return encode_rows

    def write(self, batch: Batch) -> None:
        assert self._store is not None and self._ack is not None, "open() first"
        rows = items_of(batch, self.name, encode_rows)
        if rows:
            added = self._store.insert_rows(rows)
            self.counters["stored"] += added
            self.counters["duplicates"] += len(rows) - added
        self._ack(batch.seq)

    def flush(self) -> None:
        """Every batch is committed in `write`; nothing is held."""

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
