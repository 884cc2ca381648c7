"""Reading shipper's data streams back, and writing documents back in place (`shipper relink`).

Reading goes through a point in time (one view of the data for every page, whatever is written
meanwhile), page by page with ``search_after``, sorted by ``@timestamp`` then ``_shard_doc``
(Elasticsearch's tiebreaker for a point in time). Each hit keeps its backing index, ``_seq_no``
and ``_primary_term``: a data stream takes only ``create``, so a document is changed with an
``index`` to its backing index conditioned on them (Elasticsearch's "update or delete documents in
a backing index"), which fails with a 409 when the document changed since it was read.

A request Elasticsearch cannot take now (429, 502, 503, 504: `shipper.sinks.retry`'s transient
statuses) is tried again a few times, with `Backoff` between (`retried`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator, TypeVar

from shipper.event import Doc
from shipper.sinks.retry import TRANSIENT_ITEM_STATUSES, Backoff

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

PAGE = 1000
KEEP_ALIVE = "5m"  # how long the point in time lives between two pages (each page renews it)
RECOGNISED = {"exists": {"field": "rootcause.role"}}
_STAMP = {"includes": ["@timestamp"]}  # (of the source: what `linking_span` needs)
TRIES = 5  # of a request the cluster cannot take now (a 429, 502, 503 or 504), in all
T = TypeVar("T")


def transient(status: int) -> bool:
    """Whether a request (or a bulk item) answered ``status`` may succeed if tried again soon."""
    return status in TRANSIENT_ITEM_STATUSES


def retried(call: Callable[[], T], backoff: Backoff, tries: int = TRIES) -> T:
    """``call``'s result, tried again after a transient status (`transient`) up to ``tries`` times
    in all, waiting ``backoff`` between; the last error, or any other, is raised."""
    from elasticsearch import ApiError

    for attempt in range(tries - 1):
        try:
            return call()
        except ApiError as exc:
            if not transient(exc.meta.status):
                raise
        time.sleep(backoff.delay(attempt))
    return call()


@dataclass
class Hit:
    """A document as read: where it is, the version read, and its source."""

    index: str  # the backing index
    id: str
    seq_no: int
    primary_term: int
    source: Doc


def _query(since: str | None, until: str | None) -> dict[str, Any]:
    filters: list[dict[str, Any]] = [RECOGNISED]
    bounds = {op: ts for op, ts in (("gte", since), ("lt", until)) if ts is not None}
    if bounds:
        filters.append({"range": {"@timestamp": bounds}})
    return {"bool": {"filter": filters}}


class PointInTime:
    """A point in time on ``target`` (``with``: opened, and closed at the end, also on error). Each
    request is `retried` with ``backoff``. ``shards``: how many shards ``target`` matched (0: no
    index or data stream; None: Elasticsearch did not say)."""

    def __init__(self, client: Elasticsearch, target: str, page: int = PAGE, backoff: Backoff | None = None) -> None:
        self.client = client
        self.target = target
        self.page = page
        self.backoff = backoff or Backoff(0.5, 30)
        self.id: str | None = None
        self.shards: int | None = None

    def __enter__(self) -> PointInTime:
        body = retried(lambda: self.client.open_point_in_time(index=self.target, keep_alive=KEEP_ALIVE).body,
                       self.backoff)
        self.id = str(body["id"])
        shards = body.get("_shards", {}).get("total")
        self.shards = shards if isinstance(shards, int) else None
        return self

    def __exit__(self, *exc: object) -> None:
        if self.id is not None:
            try:
                self.client.close_point_in_time(id=self.id)
            except Exception:  # noqa: BLE001 (it expires after KEEP_ALIVE anyway; the error that ended the read matters)
                pass
            self.id = None

    def _pages(self, query: dict[str, Any], order: str, source: bool | dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        after: list[Any] | None = None
        while True:
            assert self.id is not None, "use PointInTime in a with statement"
            body = retried(lambda: self.client.search(
                pit={"id": self.id, "keep_alive": KEEP_ALIVE}, query=query, size=self.page,
                sort=[{"@timestamp": order}, {"_shard_doc": order}], search_after=after, source=source,
                seq_no_primary_term=source is True, track_total_hits=False,
            ).body, self.backoff)
            self.id = str(body.get("pit_id", self.id))  # (the id may change: use the latest)
            hits = body["hits"]["hits"]
            if hits:
                yield hits
            if len(hits) < self.page:
                return
            after = hits[-1]["sort"]

    def recognised(self, since: str | None, until: str | None) -> Iterator[list[Hit]]:
        """The recognised events of ``[since, until)`` in @timestamp order, a page at a time."""
        for hits in self._pages(_query(since, until), "asc", True):
            yield [Hit(h["_index"], h["_id"], h["_seq_no"], h["_primary_term"], h["_source"]) for h in hits]

    def recognised_before(self, ts: str) -> Iterator[str]:
        """The @timestamps of the recognised events before ``ts``, newest first (for
        `shipper.enrich.relink.linking_span`, which stops at the first gap)."""
        for hits in self._pages(_query(None, ts), "desc", _STAMP):
            yield from (str(h["_source"]["@timestamp"]) for h in hits)

    def recognised_after(self, ts: str) -> Iterator[str]:
        """The @timestamps of the recognised events at or after ``ts``, oldest first."""
        for hits in self._pages(_query(ts, None), "asc", _STAMP):
            yield from (str(h["_source"]["@timestamp"]) for h in hits)


def index_actions(docs: list[tuple[Hit, Doc]]) -> list[dict[str, Any]]:
    """Bulk ``index`` actions that replace each hit's document with the new source, addressed to its
    backing index and conditioned on the version read."""
    ops: list[dict[str, Any]] = []
    for hit, source in docs:
        ops.append({"index": {"_index": hit.index, "_id": hit.id, "if_seq_no": hit.seq_no,
                              "if_primary_term": hit.primary_term}})
        ops.append(source)
    return ops


def read_again(client: Elasticsearch, hit: Hit, backoff: Backoff) -> Hit | None:
    """The document of ``hit`` as it is now (None: deleted meanwhile)."""
    from elasticsearch import NotFoundError

    try:
        body = retried(lambda: client.get(index=hit.index, id=hit.id).body, backoff)
    except NotFoundError:
        return None
    return Hit(hit.index, hit.id, body["_seq_no"], body["_primary_term"], body["_source"])
