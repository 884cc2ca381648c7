"""The embedded default: a SQLite database (WAL) with a full-text index on ``message``.

Writes are idempotent: ``event.id`` is UNIQUE (with its second) and inserted with ``INSERT OR
IGNORE``, so replaying the same archive twice stores every event once; the duplicates are
counted. The document is stored as JSON text without ``message`` (which has its own column, the
content of the FTS index). The full-text index follows the table in steps of `FTS_STEP` rows,
recorded by a mark in ``meta`` moved in the same transaction; `LocalStore.search` and the sink's
``flush`` bring it up to date first, so a search sees every stored row (rows are never deleted,
so the rowids after the mark are exactly the rows not indexed yet).

The insert is the replay's hot path in the main process (the rows are made in workers:
`shipper.sinks.rows`, which says how they are shaped for the sqlite3 module). The sink does it on
a writer thread (`shipper.sinks.local_writer`): SQLite runs without the GIL, so the main thread
goes on unpickling and linking the next batches meanwhile, and batches that wait are committed
together.

Each index costs every insert (a cursor opened per row), so there are two: the unique one and
one over the rare recognised events. ``bench/local.py`` prints the costs.

A run that stores events records the incident window it linked them with in ``meta``
(``incident_windows``: the windows runs used, each once, the last run's last), so that ``causes``
and ``report`` link them again as they were linked (`StoreQueries.incident_windows`). A store
written before has no such record: it reads as it did (the default window).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from itertools import groupby
from pathlib import Path
from typing import Any, Iterable

import orjson

from shipper.errors import InputError, OutputError
from shipper.event import Batch, Doc
from shipper.sinks.base import Ack, Encode, items_of, sqlite_files
from shipper.sinks.local_read import RECOGNISED, WINDOWS_KEY, StoreQueries
from shipper.sinks.local_writer import Commit, Writer
from shipper.sinks.rows import encode_rows

SCHEMA_VERSION = "3"

# 16 MiB of page cache: a replay of 1M lines into a new store, then 1M more, then the same
# again (duplicates) took 6.8, 7.3 and 4.0 s with it, 7.0, 7.4 and 4.3 s with 64 MiB, and
# peaked at 91 MB of PSS instead of 139 (bench/README.md).
_CACHE = "PRAGMA cache_size=-16384"
# 32 KiB pages: an eighth of the WAL frames (and write calls) of 4 KiB pages for the same rows
# (-1.3 us a row, most of it from 4 to 16 KiB); applies to new stores (set before the first table).
_PRAGMAS = (
    "PRAGMA page_size=32768",
    "PRAGMA journal_mode=WAL",
    _CACHE,
    "PRAGMA wal_autocheckpoint=1250",  # pages: checkpoint when the WAL reaches ~40 MB
)
# In WAL mode, NORMAL syncs the WAL only at checkpoints: a commit is consistent but may be rolled
# back by a power loss. FULL also syncs the WAL after each commit, which SQLite documents as what
# makes a WAL transaction durable (https://sqlite.org/pragma.html#pragma_synchronous). The daemon
# needs that: its checkpoint counts an acknowledged batch as delivered and a restart does not
# store it again. A replay does not (it is run again whole), and keeps the cheaper setting.
_SYNCHRONOUS = {False: "PRAGMA synchronous=NORMAL", True: "PRAGMA synchronous=FULL"}

_SCHEMA = (
    """CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)""",
    """CREATE TABLE events (
        rowid INTEGER PRIMARY KEY,
        id TEXT NOT NULL,
        ts TEXT NOT NULL,
        host TEXT, process TEXT,
        signature TEXT, incident TEXT,
        unparsed INTEGER NOT NULL DEFAULT 0,
        message TEXT NOT NULL,
        doc TEXT NOT NULL
    )""",
    # Unique on (second, id) rather than on id alone: the id already hashes the second, so this is
    # the same constraint, but replayed events arrive nearly in time order and land at the right
    # edge of the index instead of at random places (3x faster inserts); it also serves time ranges.
    "CREATE UNIQUE INDEX events_second_id ON events (substr(ts, 1, 19), id)",
    # What `causes` and `report` read (only_recognised), in @timestamp order: ~1% of the rows.
    f"CREATE INDEX events_recognised ON events (ts) WHERE {RECOGNISED}",
    # columnsize=0: no per-row size record (only bm25 ranking needs it; search orders by time).
    "CREATE VIRTUAL TABLE events_fts USING fts5 (message, content='events', content_rowid='rowid', columnsize=0)",
    # Fewer, larger segments, merged less often: terms held in memory before FTS5 writes a segment
    # (default 1 MB), and segments per level before merging (defaults 4 and 16). Each merge
    # rewrites its segments, so this cuts the index's share of an insert (~0.5 us a row at 500k
    # rows); a search reads a few more segments (still milliseconds).
    "INSERT INTO events_fts (events_fts, rank) VALUES ('hashsize', 8388608)",
    "INSERT INTO events_fts (events_fts, rank) VALUES ('automerge', 16)",
    "INSERT INTO events_fts (events_fts, rank) VALUES ('crisismerge', 32)",
    f"INSERT INTO meta VALUES ('schema', '{SCHEMA_VERSION}'), ('indexed', '0')",
)

_INSERT = (
    "INSERT OR IGNORE INTO events (id, ts, host, process, message, doc{})"
    " VALUES (?, ?, nullif(?, ''), nullif(?, ''), ?, ?{})"
)
_INSERTS = {  # by the width of the row
    6: _INSERT.format("", ""),
    9: _INSERT.format(", signature, incident, unparsed", ", nullif(?, ''), nullif(?, ''), ?"),
}
# Why steps: FTS5 writes its pending terms out as a new segment at the end of every statement,
# which it then merges with others, so one statement per many rows costs less per row than one per
# batch (-0.6 us a row), and one per row (a trigger, executemany) would make a segment per row.
FTS_STEP = 65536
_INDEX_TEXT = "INSERT INTO events_fts (rowid, message) SELECT rowid, message FROM events WHERE rowid > ?"

# Hints of the errors opening a store.
_NO_STORE = "replay some logs first (shipper replay FILE...) or pass --store PATH"
_WHICH_STORE = "pass --store the file that `shipper replay --store` (or `shipper run`) wrote"


class LocalStore(StoreQueries):
    """The SQLite store, for writing (the sink) and for reading (causes, report: `StoreQueries`).

    ``create=False``: the file must exist already. ``read_only``: for a command that only reads the
    store; nothing is created, migrated or written, and what keeps it from being read is an
    `InputError` (a missing file, one this user may not read, an empty file, another database).
    ``durable``: each commit is on disk when it returns (see `_SYNCHRONOUS`). ``incident_window``:
    the window the events written are linked with, recorded with the first of them.
    """

    def __init__(self, path: Path, *, create: bool = True, read_only: bool = False, durable: bool = False,
                 incident_window: float | None = None) -> None:
        self.path = path
        self._indexed = 0  # the full-text index's mark as last seen; 0: not read yet (see _rollback)
        self._linked_with = incident_window  # recorded with the first rows stored (`_record_window`), then None
        if read_only:
            self.db = _open_read_only(path)
            return
        if not create and not path.exists():
            raise OutputError(f"no local store at {path}", hint=_NO_STORE)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            for pragma in (*_PRAGMAS, _SYNCHRONOUS[durable]):
                self.db.execute(pragma)
            version = self._schema()
        except (sqlite3.Error, OSError) as exc:
            raise OutputError(f"cannot open the local store {path}: {exc}") from None
        if version != SCHEMA_VERSION:
            self.db.close()
            raise OutputError(
                f"the local store {path} was written by another version of shipper (schema {version})",
                hint="replay into a new store (--store NEW.db); this version writes schema " + SCHEMA_VERSION,
            )

    def _schema(self) -> str:
        """The store's schema version; an empty database gets this version's schema."""
        version = _version(self.db)
        if version is not None:
            return version
        db = self.db
        db.execute("BEGIN IMMEDIATE")  # two processes opening a new store: one makes the tables
        try:
            version = _version(db)
            if version is None and db.execute("SELECT 1 FROM sqlite_schema").fetchone():
                version = "unknown"  # tables, but not made by a shipper that records its schema
            elif version is None:
                for statement in _SCHEMA:
                    db.execute(statement)
                version = SCHEMA_VERSION
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return version

    def insert(self, docs: list[Doc]) -> int:
        """Stores the documents not stored yet, in one transaction; returns how many were new."""
        return self.insert_rows(encode_rows(docs))

    def insert_rows(self, rows: Iterable[tuple[Any, ...]]) -> int:
        """Stores rows made by `encode_rows` not stored yet, in one transaction; returns how many were new."""
        db = self.db
        try:
            db.execute("BEGIN IMMEDIATE")  # waits for another writer (a read that turns into a write would fail at once)
            (last,) = db.execute("SELECT coalesce(max(rowid), 0) FROM events").fetchone()
            added = 0
            stored = False
            for width, run in groupby(rows, len):  # runs of one kind, in order (rowids keep the order)
                added += db.executemany(_INSERTS[width], run).rowcount
                stored = True
            if stored and self._linked_with is not None:
                self._record_window(self._linked_with)
            if last + added - self._indexed >= FTS_STEP:
                self._index_text()
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise OutputError(f"cannot write to the local store {self.path}: {exc}") from None
        if stored:
            self._linked_with = None
        return added

    def _record_window(self, window: float) -> None:
        """Within a write transaction: ``window`` becomes the last of the incident windows recorded."""
        used = [w for w in self.incident_windows() if w != window] + [window]
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (WINDOWS_KEY, orjson.dumps(used).decode()))

    def update_text_index(self) -> None:
        """Adds the rows stored since the last step to the full-text index (a no-op when none are)."""
        db = self.db
        try:
            (last,) = db.execute("SELECT coalesce(max(rowid), 0) FROM events").fetchone()
            if last == self._indexed_upto():
                return
            db.execute("BEGIN IMMEDIATE")
            self._index_text()
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise OutputError(f"cannot update the full-text index of the local store {self.path}: {exc}") from None

    def _index_text(self) -> None:
        """Within a write transaction: the rows after the recorded mark into the index, the mark moved."""
        db = self.db
        db.execute(_INDEX_TEXT, (self._indexed_upto(),))
        db.execute("UPDATE meta SET value = (SELECT coalesce(max(rowid), 0) FROM events) WHERE key = 'indexed'")
        self._indexed = self._indexed_upto()

    def _indexed_upto(self) -> int:
        """The rowid up to which the full-text index is built (another process may have moved it)."""
        return int(self.db.execute("SELECT value FROM meta WHERE key = 'indexed'").fetchone()[0])

    def _rollback(self) -> None:
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")
        self._indexed = 0  # unknown: the next insert reads the recorded mark (a step may come early)

    def search(self, query: str, *, limit: int = 100) -> list[Doc]:
        """Full-text search on message (SQLite FTS5 query syntax), over every stored row."""
        self.update_text_index()
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

    def close(self) -> None:
        self.db.close()


def _version(db: sqlite3.Connection) -> str | None:
    """The schema version a store records (None: no ``meta`` table, or no version in it)."""
    if not db.execute("SELECT 1 FROM sqlite_schema WHERE name = 'meta'").fetchone():
        return None
    row = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    return None if row is None else str(row[0])


def _open_read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection to the store at ``path`` (SQLite's ``mode=ro``: the file is neither
    created nor changed), after checking that it holds a store of this version. Whatever keeps it
    from being read is an `InputError` naming the file and what to do."""
    if not path.exists():
        raise InputError(f"no local store at {path}", hint=_NO_STORE)
    if path.is_dir():
        raise InputError(f"{path} is a directory, not a local store", hint="pass --store the store's file (events.db)")
    try:
        db = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True, check_same_thread=False)
    except sqlite3.Error as exc:
        raise _unreadable(path, exc) from None
    try:
        db.execute(_CACHE)
        version = _version(db)
    except sqlite3.Error as exc:
        db.close()
        raise _unreadable(path, exc) from None
    if version != SCHEMA_VERSION:
        db.close()
        raise _not_this_store(path, version)
    return db


def _unreadable(path: Path, exc: sqlite3.Error) -> InputError:
    """The error for a store SQLite cannot read: not a database, or not one this user may read."""
    name = exc.sqlite_errorname
    if name == "SQLITE_NOTADB":
        return InputError(f"{path} is not a local store: {exc}", hint=_WHICH_STORE)
    if name.startswith("SQLITE_READONLY"):  # a WAL database needs its -shm file, which this user may not create
        return InputError(f"cannot read the local store {path}: {exc}",
                          hint="SQLite reads a store with its -wal and -shm files beside it: run as a user who may "
                               "create them in its directory (the user that runs shipper), or read a copy")
    return InputError(f"cannot read the local store {path}: {exc}",
                      hint="check that it is a file this user may read, in a directory this user may enter")


def _not_this_store(path: Path, version: str | None) -> InputError:
    """The error for a database that is not a store of this version (empty, foreign, or older/newer)."""
    if version is None:
        what = "an empty file" if path.stat().st_size == 0 else "a database without shipper's tables"
        return InputError(f"{path} is not a local store ({what})", hint=_WHICH_STORE)
    return InputError(f"the local store {path} was written by another version of shipper (schema {version})",
                      hint="read it with that version, or replay the logs into a new store (--store NEW.db); "
                           "this version reads schema " + SCHEMA_VERSION)


class LocalSink:
    """Writes batches into a `LocalStore` on its writer thread (`Writer`: SQLite's work overlaps
    the caller's) and acknowledges each once its transaction is committed, on the caller's thread.
    ``durable`` (the daemon): once it is committed on disk (`LocalStore`'s ``durable``).
    ``incident_window``: the window the run links incidents with, recorded in the store."""

    name = "local"
    failing = False  # (`Sink.failing`: it does not retry on its own)

    def __init__(self, path: Path, *, durable: bool = False, incident_window: float | None = None) -> None:
        self.path = path
        self._durable = durable
        self._window = incident_window
        self.counters: Counter[str] = Counter()
        self._store: LocalStore | None = None
        self._writer: Writer | None = None
        self._ack: Ack | None = None

    def open(self, ack: Ack) -> None:
        self._ack = ack
        self._store = LocalStore(self.path, durable=self._durable, incident_window=self._window)
        self._writer = Writer(self._store)

    def encoder(self) -> Encode:
        return encode_rows

    def write(self, batch: Batch) -> None:
        """Queues the batch for the writer thread; acknowledges the batches committed meanwhile."""
        assert self._writer is not None, "open() first"
        self._writer.put(batch.seq, items_of(batch, self.name, encode_rows))
        self._acknowledge()

    def flush(self) -> None:
        """Returns once every batch written is committed and acknowledged; the full-text index catches up."""
        if self._writer is not None and self._store is not None:
            self._writer.wait()
            self._acknowledge()
            self._store.update_text_index()

    def _acknowledge(self) -> None:
        assert self._ack is not None
        for commit in self._count():
            for seq in commit.seqs:
                self._ack(seq)

    def _count(self) -> list[Commit]:
        """The transactions committed since the last call, counted."""
        assert self._writer is not None
        commits = self._writer.committed()
        for commit in commits:
            self.counters["stored"] += commit.added
            self.counters["duplicates"] += commit.rows - commit.added
        return commits

    def close(self) -> None:
        """Stops the writer thread (what it holds is committed and counted, but acknowledged only by
        `flush`: an interrupted replay can say exactly what is stored) and closes the store."""
        if self._writer is not None:
            self._writer.stop()
            self._count()
            self._writer = None
        if self._store is not None:
            self._store.close()
            self._store = None

    def files(self) -> list[Path]:
        return sqlite_files(self.path)
