"""The dead letter: documents Elasticsearch rejected for good (a 4xx on the item), kept in SQLite.

A row holds the document exactly as it was sent, where it was going and why it was refused, so
``shipper deadletter list`` shows it and ``shipper deadletter retry`` re-sends it after the
mapping or the document's producer is fixed. One row per (data stream, event id): the same
document failing again replaces its row (with the new error) instead of piling up copies.
A batch is acknowledged only after its dead letters are committed here.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from shipper.errors import OutputError

FILENAME = "deadletter.db"
_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS deadletter (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,             -- when it was dead-lettered (UTC, ISO 8601)
    target TEXT NOT NULL,         -- the data stream it was sent to
    doc_id TEXT,                  -- its _id (event.id)
    status INTEGER NOT NULL,      -- the item's HTTP status
    error_type TEXT NOT NULL,     -- e.g. document_parsing_exception
    reason TEXT NOT NULL,         -- Elasticsearch's reason, with its cause
    source BLOB NOT NULL,         -- the document as sent (JSON)
    attempts INTEGER NOT NULL DEFAULT 1,
    UNIQUE (target, doc_id)
);
"""


@dataclass(frozen=True)
class Letter:
    at: str
    target: str
    doc_id: str | None
    status: int
    error_type: str
    reason: str
    source: bytes


@dataclass(frozen=True)
class StoredLetter(Letter):
    id: int = 0
    attempts: int = 1


class DeadLetterStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, isolation_level=None)
            self._db.execute("PRAGMA busy_timeout = 5000")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > _SCHEMA_VERSION:
                raise OutputError(f"the dead letter {path} was written by a newer shipper",
                                  hint="upgrade shipper, or move the file away")
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
        except (sqlite3.Error, OSError) as exc:
            raise OutputError(f"cannot open the dead letter {path}: {exc}",
                              hint="state_dir in the config must be a directory shipper can write") from None

    def add(self, letters: list[Letter]) -> None:
        """Store ``letters`` in one committed transaction (durable before the batch is acknowledged)."""
        rows = [(x.at, x.target, x.doc_id, x.status, x.error_type, x.reason, x.source) for x in letters]
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(
                    "INSERT INTO deadletter (at, target, doc_id, status, error_type, reason, source) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (target, doc_id) DO UPDATE SET at = excluded.at, status = excluded.status, "
                    "error_type = excluded.error_type, reason = excluded.reason, source = excluded.source, "
                    "attempts = attempts + 1",
                    rows,
                )
        except sqlite3.Error as exc:
            raise OutputError(f"cannot write the dead letter {self.path}: {exc}",
                              hint="is the disk full, or the file read-only?") from None

    def letters(self, limit: int | None = None, ids: list[int] | None = None) -> list[StoredLetter]:
        sql = "SELECT id, at, target, doc_id, status, error_type, reason, source, attempts FROM deadletter"
        params: list[object] = []
        if ids:
            sql += f" WHERE id IN ({','.join('?' * len(ids))})"
            params.extend(ids)
        sql += " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [
            StoredLetter(at=r[1], target=r[2], doc_id=r[3], status=r[4], error_type=r[5], reason=r[6],
                         source=bytes(r[7]), id=r[0], attempts=r[8])
            for r in self._db.execute(sql, params)
        ]

    def count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM deadletter").fetchone()[0])

    def remove_settled(self, letters: list[StoredLetter]) -> int:
        """Delete the rows of ``letters`` that were not dead-lettered again since they were read."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            removed = 0
            for x in letters:
                cur = self._db.execute("DELETE FROM deadletter WHERE id = ? AND at = ? AND attempts = ?",
                                       (x.id, x.at, x.attempts))
                removed += cur.rowcount
        return removed

    def close(self) -> None:
        self._db.close()
