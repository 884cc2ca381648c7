"""The local store's queries (`shipper.sinks.local`): what `causes` and `report` read.

`LocalStore` has them from `StoreQueries`; its full-text `search` stays with it, as it brings the
index up to date first. Time windows range-scan the unique (second, id) index; the recognised
events (~1% of the rows) are read from their partial index.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Iterator

import orjson

from shipper.event import Doc

# The recognised events. The schema's partial index (``events_recognised``) has this condition:
# SQLite uses it for a query that has the same one.
RECOGNISED = "(signature IS NOT NULL OR incident IS NOT NULL)"
# The ``meta`` key of the incident windows the runs that wrote the store linked with (`incident_windows`).
WINDOWS_KEY = "incident_windows"


class StoreQueries:
    """Reading a store's events through its connection ``db``."""

    db: sqlite3.Connection

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
            where.append(RECOGNISED)
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

    def incident_windows(self) -> list[float]:
        """The incident windows (seconds) the runs that stored events linked them with, each once,
        the last run's last; empty for a store written before they were recorded."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (WINDOWS_KEY,)).fetchone()
        return [float(w) for w in orjson.loads(row[0])] if row is not None else []

    def recognised_before(self, ts: str) -> Iterator[str]:
        """The @timestamps of the recognised events before ``ts``, newest first (from the partial
        index alone: `shipper.enrich.relink.linking_span` walks them back to a gap)."""
        for (found,) in self.db.execute(f"SELECT ts FROM events WHERE {RECOGNISED} AND ts < ? ORDER BY ts DESC", (ts,)):
            yield found

    def recognised_after(self, ts: str) -> Iterator[str]:
        """The @timestamps of the recognised events at or after ``ts``, oldest first."""
        for (found,) in self.db.execute(f"SELECT ts FROM events WHERE {RECOGNISED} AND ts >= ? ORDER BY ts", (ts,)):
            yield found

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
