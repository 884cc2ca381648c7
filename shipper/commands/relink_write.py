"""How `shipper relink` writes the relinked documents back, and what it counts of that.

A page of documents is one ``_bulk`` request. The whole request answered 429, 502, 503 or 504 is
tried again a few times (`shipper.sinks.es_search.retried`); so are the items answered so (the
cluster could not take them now). An item answered 409 changed since it was read: it is read
again and written once more on the version now there. When a request still fails, writing stops:
the documents not written yet are counted, with why, and the summary says so.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shipper.sinks.es_search import PAGE, TRIES, Hit, index_actions, read_again, retried, transient

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

    from shipper.event import Doc
    from shipper.sinks.retry import Backoff


@dataclass
class Outcome:
    read: int = 0
    updated: int = 0
    unchanged: int = 0
    conflicts: int = 0  # 409s: read again and retried
    failed: list[str] = field(default_factory=list)  # a line per document not written, with why
    forbidden: bool = False  # some were refused for want of a privilege
    stopped: str | None = None  # why writing stopped before the end (a request failed)
    unwritten: int = 0  # the documents not tried when it stopped
    unreachable: bool = False  # it stopped because the cluster could not be reached

    @property
    def not_written(self) -> int:
        return len(self.failed) + self.unwritten


@dataclass
class _Entry:
    hit: Hit
    source: Doc  # what is written
    tries: int = 0  # transient answers so far
    again: bool = False  # read again after a 409


class Stopped(Exception):
    """A bulk request failed (after its retries): nothing more is written."""


class Writer:
    """Writes pages of relinked documents with the client of ``where``; counts into ``outcome``."""

    def __init__(self, client: Elasticsearch, where: str, backoff: Backoff, outcome: Outcome) -> None:
        self.client, self.where, self.backoff, self.outcome = client, where, backoff, outcome

    def write(self, hits: list[Hit]) -> None:
        for first in range(0, len(hits), PAGE):
            todo = [_Entry(hit, hit.source) for hit in hits[first:first + PAGE]]
            try:
                while todo:
                    todo = self._round(todo)
            except Stopped:
                self.outcome.unwritten += len(todo) + max(0, len(hits) - first - PAGE)
                return

    def _round(self, todo: list[_Entry]) -> list[_Entry]:
        """One bulk request of ``todo``; the entries to write again (after a wait if the cluster
        could not take some now)."""
        again: list[_Entry] = []
        for entry, item in zip(todo, self._bulk(todo)):
            status = int(item.get("status", 0))
            if transient(status) and entry.tries + 1 < TRIES:
                entry.tries += 1
                again.append(entry)
            elif status == 409:
                again += self._conflict(entry)
            else:
                self._count(entry, status, item)
        waits = [e.tries for e in again if e.tries]
        if waits:
            time.sleep(self.backoff.delay(max(waits) - 1))
        return again

    def _conflict(self, entry: _Entry) -> list[_Entry]:
        """``entry`` changed since it was read: itself on the document as it is now (none when that
        has its links already, or the document is gone)."""
        from elasticsearch import ApiError

        hit = entry.hit
        if entry.again:
            self.outcome.failed.append(f"{describe(hit)}: changed again while relink wrote it (409); run relink again")
            return []
        self.outcome.conflicts += 1
        try:
            now = read_again(self.client, hit, self.backoff)
        except ApiError as exc:
            self.outcome.failed.append(f"{describe(hit)}: changed since it was read, and reading it again failed: "
                                       f"{_reason(exc)}")
            return []
        if now is None:
            self.outcome.failed.append(f"{describe(hit)}: deleted since it was read")
            return []
        if now.source.get("rootcause") == hit.source.get("rootcause"):
            self.outcome.unchanged += 1  # (another relink wrote the same links meanwhile)
            return []
        return [_Entry(hit=now, source={**now.source, "rootcause": hit.source.get("rootcause")}, again=True)]

    def _bulk(self, todo: list[_Entry]) -> list[dict[str, Any]]:
        """Each entry's bulk item result (``{"status": …, "error": …}``), in order; `Stopped` (said in
        the outcome) when the request fails."""
        from elastic_transport import TransportError
        from elasticsearch import ApiError

        docs = [(e.hit, e.source) for e in todo]
        try:
            # pipeline=_none: the source read back went through the data stream's default pipeline
            # (pipelines/logs-shipper-default.json) when it was first indexed. That pipeline is
            # idempotent on it (event.kind is set only if missing, host.name is lower case already,
            # process.pid a number or renamed already, log.level trimmed) but for one processor:
            # event.ingested would become the time of the relink. Skipping it keeps the document as
            # it was but for rootcause.* (a final_pipeline, which shipper's template sets none of,
            # would still run).
            body = retried(lambda: self.client.bulk(operations=index_actions(docs), pipeline="_none",
                                                    filter_path="items.*.status,items.*.error").body, self.backoff)
        except ApiError as exc:
            if exc.meta.status == 401:  # (the key expired meanwhile)
                from shipper.sinks.es_client import unavailable

                raise unavailable(exc, self.where, doing="write the relinked documents back") from None
            self.outcome.forbidden |= exc.meta.status == 403
            self.outcome.stopped = f"Elasticsearch at {self.where} answered the bulk request {_reason(exc)}" + (
                f" (tried {TRIES} times)" if transient(exc.meta.status) else "")
            raise Stopped from None
        except TransportError as exc:
            from shipper.sinks.es_errors import connection_reason

            self.outcome.unreachable = True
            self.outcome.stopped = f"the bulk request to {self.where} failed: {connection_reason(exc)}"
            raise Stopped from None
        return [next(iter(item.values())) for item in body["items"]]

    def _count(self, entry: _Entry, status: int, item: dict[str, Any]) -> None:
        from shipper.sinks.es_errors import error_reason

        if 200 <= status < 300:
            self.outcome.updated += 1
            return
        self.outcome.forbidden |= status == 403
        tried = f" (tried {TRIES} times)" if transient(status) else ""
        self.outcome.failed.append(f"{describe(entry.hit)}: {status} {error_reason(item)}{tried}")


def _reason(exc: Any) -> str:
    from shipper.sinks.es_errors import error_reason

    return f"{exc.meta.status}: {error_reason(exc.body)}"


def describe(hit: Hit) -> str:
    rc = hit.source.get("rootcause") or {}
    return f"{hit.index}/{hit.id} ({hit.source.get('@timestamp')} {rc.get('signature', '?')})"
