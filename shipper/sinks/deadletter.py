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

from shipper.errors import InputError, OutputError

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


_NEWER_FIX = "upgrade shipper, or move the file away"


class DeadLetterStore:
    """The dead letter at ``path``; ``read_only``: opened with SQLite's ``mode=ro`` (for reading it:
    the file is neither created nor changed, and must hold a dead letter already)."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = path
        self._db = _open_read_only(path) if read_only else _open(path)

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


def _open(path: Path) -> sqlite3.Connection:
    """The dead letter for writing: the file and its table are created if they are not there, but
    not its directory, the state directory (made when shipper starts; one deleted while shipper
    runs is an error, not a directory to make again)."""
    if not path.parent.is_dir():
        raise OutputError(f"cannot open the dead letter {path}: the directory {path.parent} does not exist",
                          hint="was the state directory deleted while shipper was running? start shipper again: "
                               "it makes the directory")
    try:
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA busy_timeout = 5000")
        if _version(db) > _SCHEMA_VERSION:
            raise OutputError(_newer(path), hint=_NEWER_FIX)
        db.executescript(_SCHEMA)
        db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
    except (sqlite3.Error, OSError) as exc:
        raise OutputError(f"cannot open the dead letter {path}: {exc}",
                          hint="state_dir in the config must be a directory shipper can write") from None
    return db


def _open_read_only(path: Path) -> sqlite3.Connection:
    """The dead letter for reading (``mode=ro``): nothing is created, no table, not the file.
    A file that is not a dead letter of this version is an `InputError` naming it."""
    try:
        db = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True, isolation_level=None)
    except sqlite3.Error as exc:
        raise _unreadable(path, exc) from None
    try:
        db.execute("PRAGMA busy_timeout = 5000")
        version = _version(db)
        has_table = db.execute("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'deadletter'").fetchone()
    except sqlite3.Error as exc:
        db.close()
        raise _unreadable(path, exc) from None
    if version > _SCHEMA_VERSION:
        db.close()
        raise InputError(_newer(path), hint=_NEWER_FIX)
    if not has_table:
        db.close()
        raise InputError(f"{path} is not a dead letter (a database without its deadletter table)",
                         hint=f"--state-dir (or state_dir in the config) names the directory of shipper's {FILENAME}")
    return db


def _version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def _newer(path: Path) -> str:
    return f"the dead letter {path} was written by a newer shipper"


def _unreadable(path: Path, exc: sqlite3.Error) -> InputError:
    return InputError(f"cannot read the dead letter {path}: {exc}",
                      hint="check that it is a file this user may read, in a directory this user may enter")
