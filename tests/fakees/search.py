"""Reading documents back: points in time, ``_search`` and ``GET <index>/_doc/<id>``, with
Elasticsearch's request checks and response shapes, for what shipper sends: a ``bool`` filter of
``exists`` and ``range`` on ``@timestamp``, a sort on ``@timestamp`` then ``_shard_doc``,
``search_after``, ``size``, ``_source`` (all, none or some fields) and ``seq_no_primary_term``.

A point in time keeps the documents as they were when it was opened (their sources and sequence
numbers): a write after it is not seen through it, as in Elasticsearch.
"""

from __future__ import annotations

import base64
import copy
import fnmatch
import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from tests.fakees.errors import EsError, cause

if TYPE_CHECKING:
    from tests.fakees.cluster import Cluster, Request, Stream

_READ = {"read", "all"}
_PIT_IDS = itertools.count(1)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass
class Doc:
    index: str  # the backing index (or the index)
    id: str
    source: dict[str, Any]
    seq_no: int
    primary_term: int
    shard_doc: int  # Elasticsearch's _shard_doc: shard (here: index) number << 32 | Lucene doc number


def _snapshot(streams: list["Stream"]) -> list[Doc]:
    return [Doc(s.backing, doc_id, copy.deepcopy(source), s.meta[doc_id].seq_no, s.meta[doc_id].primary_term,
                shard << 32 | n)
            for shard, s in enumerate(streams) for n, (doc_id, source) in enumerate(s.docs.items())]


def _forbidden(user: str, action: str, names: str) -> EsError:
    return EsError(403, "security_exception",
                   f"action [{action}] is unauthorized for user [{user}] with effective roles [shipper_writer] "
                   f"on indices [{names}], this action is granted by the index privileges [read,all]")


def resolve(cluster: "Cluster", req: "Request", expression: str, action: str) -> list["Stream"]:
    """The data streams and indices of a multi-target ``expression`` (``a,b*,-c``) the user may read.
    A wildcard resolves to those the user may read only (none: an empty result); a name given in full
    that the user may not read is a 403, one that does not exist a 404."""
    grant = cluster.grant(req)
    may_read = bool(grant.index & _READ)
    found: dict[str, "Stream"] = {}
    for part in expression.split(","):
        if part.startswith("-"):
            for name in [n for n in found if fnmatch.fnmatchcase(n, part[1:])]:
                del found[name]
        elif "*" in part:
            found.update({s.name: s for s in cluster.streams.values() if fnmatch.fnmatchcase(s.name, part) and may_read})
        else:
            stream = cluster.streams.get(part) or next((s for s in cluster.streams.values() if s.backing == part), None)
            if not may_read:
                raise _forbidden(grant.user, action, part)
            if stream is None:
                raise EsError(404, "index_not_found_exception", f"no such index [{part}]",
                              extra={"resource.type": "index_or_alias", "resource.id": part, "index": part})
            found[stream.name] = stream
    return [found[name] for name in sorted(found)]


def open_pit(c: "Cluster", req: "Request", p: dict[str, str]) -> tuple[int, Any]:
    if "keep_alive" not in req.query:
        raise EsError(400, "action_request_validation_exception", "Validation Failed: 1: [keep_alive] is not specified;")
    streams = resolve(c, req, p["index"], "indices:data/read/open_point_in_time")
    pit_id = base64.urlsafe_b64encode(f"fakees-pit-{next(_PIT_IDS)}".encode()).decode("ascii")
    c.pits[pit_id] = _snapshot(streams)
    c.counters["pits_opened"] += 1
    return 200, {"id": pit_id, "_shards": _shards(len(streams))}


def close_pit(c: "Cluster", req: "Request", _: dict[str, str]) -> tuple[int, Any]:
    body = _body(req)
    freed = c.pits.pop(str(body.get("id")), None) is not None
    return (200 if freed else 404), {"succeeded": True, "num_freed": int(freed)}


def search(c: "Cluster", req: "Request", p: dict[str, str]) -> tuple[int, Any]:
    if c.faults.search_statuses:
        raise _search_failure(c.faults.search_statuses.pop(0))
    body = _body(req) if req.body else {}
    pit = body.get("pit")
    if pit is not None and p.get("index"):
        raise EsError(400, "action_request_validation_exception", "Validation Failed: 1: [indices] cannot be used "
                      "with point in time. Do not specify any index with point in time.;")
    if pit is not None:
        docs = c.pits.get(str(pit.get("id")))
        if docs is None:
            raise EsError(404, "search_context_missing_exception", f"No search context found for id [{pit.get('id')}]")
    else:
        docs = _snapshot(resolve(c, req, p.get("index") or "*", "indices:data/read/search"))
    sort = _sort(body.get("sort", []), pit is not None)
    hits = sorted((d for d in docs if _matches(d.source, body.get("query", {"match_all": {}}))),
                  key=lambda d: _key(d, sort))
    after = body.get("search_after")
    if after is not None:
        hits = [d for d in hits if _key_of_values(_values(d, sort), sort) > _key_of_values(after, sort)]
    page = hits[:int(body.get("size", 10))]
    out: dict[str, Any] = {"took": 1, "timed_out": False, "_shards": _shards(1), "hits": {"max_score": None}}
    if pit is not None:
        out = {"pit_id": pit["id"], **out}
    if body.get("track_total_hits", True) is not False:
        out["hits"]["total"] = {"value": len(hits), "relation": "eq"}
    out["hits"]["hits"] = [_hit(d, sort, body) for d in page]
    return 200, out


def get_doc(c: "Cluster", req: "Request", p: dict[str, str]) -> tuple[int, Any]:
    (stream,) = resolve(c, req, p["index"], "indices:data/read/get")
    meta = stream.meta.get(p["id"])
    if meta is None:
        return 404, {"_index": stream.backing, "_id": p["id"], "found": False}
    return 200, {"_index": stream.backing, "_id": p["id"], "_version": meta.version, "_seq_no": meta.seq_no,
                 "_primary_term": meta.primary_term, "found": True, "_source": stream.docs[p["id"]]}


def _body(req: "Request") -> dict[str, Any]:
    from tests.fakees.routes import _json

    body = _json(req)
    if not isinstance(body, dict):
        raise EsError(400, "parse_exception", "request body or source parameter is required")
    return body


def _shards(n: int) -> dict[str, int]:
    return {"total": n, "successful": n, "skipped": 0, "failed": 0}


def _sort(spec: list[Any], with_pit: bool) -> list[tuple[str, bool]]:
    """(field, descending) of each sort clause: ``{"f": "asc"}`` or ``{"f": {"order": "desc"}}``."""
    out = []
    for clause in spec:
        (name, how), = clause.items()
        order = how.get("order", "asc") if isinstance(how, dict) else how
        if name == "_shard_doc" and not with_pit:
            raise EsError(400, "action_request_validation_exception",
                          "Validation Failed: 1: [_shard_doc] sort field cannot be used without [point in time];")
        if name not in ("@timestamp", "_shard_doc"):
            raise EsError(400, "illegal_argument_exception", f"fakees sorts on @timestamp and _shard_doc only, not [{name}]")
        out.append((name, order == "desc"))
    return out


def _millis(text: Any) -> int:
    """A date as Elasticsearch's ``date`` type keeps it: whole milliseconds since the epoch."""
    dt = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    dt = dt if dt.tzinfo is not None else dt.replace(tzinfo=timezone.utc)
    return (dt - _EPOCH) // timedelta(milliseconds=1)


def _values(d: Doc, sort: list[tuple[str, bool]]) -> list[int]:
    return [_millis(d.source["@timestamp"]) if name == "@timestamp" else d.shard_doc for name, _ in sort]


def _key_of_values(values: list[Any], sort: list[tuple[str, bool]]) -> tuple[int, ...]:
    return tuple(-int(v) if desc else int(v) for v, (_, desc) in zip(values, sort))


def _key(d: Doc, sort: list[tuple[str, bool]]) -> tuple[int, ...]:
    return _key_of_values(_values(d, sort), sort)


def _matches(source: dict[str, Any], query: dict[str, Any]) -> bool:
    (kind, spec), = query.items()
    if kind == "match_all":
        return True
    if kind == "bool" and set(spec) <= {"filter"}:
        filters = spec.get("filter", [])
        return all(_matches(source, q) for q in (filters if isinstance(filters, list) else [filters]))
    if kind == "exists":
        return _path(source, spec["field"]) is not None
    if kind == "range":
        (name, bounds), = spec.items()
        value = _path(source, name)
        if value is None:
            return False
        ms = _millis(value)
        tests = {"gte": lambda b: ms >= b, "gt": lambda b: ms > b, "lt": lambda b: ms < b, "lte": lambda b: ms <= b}
        return all(tests[op](_millis(bound)) for op, bound in bounds.items() if op in tests)
    raise EsError(400, "parsing_exception", f"unknown query [{kind}]")


def _path(source: dict[str, Any], dotted: str) -> Any:
    node: Any = source
    for part in dotted.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _hit(d: Doc, sort: list[tuple[str, bool]], body: dict[str, Any]) -> dict[str, Any]:
    hit: dict[str, Any] = {"_index": d.index, "_id": d.id, "_score": None}
    if body.get("seq_no_primary_term"):
        hit.update(_seq_no=d.seq_no, _primary_term=d.primary_term)
    wanted = body.get("_source", True)
    if wanted is True:
        hit["_source"] = d.source
    elif isinstance(wanted, (list, dict)):
        hit["_source"] = _filtered(d.source, wanted if isinstance(wanted, list) else wanted.get("includes", []))
    if sort:
        hit["sort"] = _values(d, sort)
    return hit


def _filtered(source: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in fields:
        value = _path(source, name)
        if value is not None:
            node = out
            parts = name.split(".")
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = value
    return out


def _search_failure(status: int) -> EsError:
    """A search that failed on every shard (what a red index or an overloaded cluster answers)."""
    shard_cause = cause("no_shard_available_action_exception",
                        "[fakees-0][127.0.0.1:9300][indices:data/read/search[phase/query]]") if status == 503 else \
        cause("es_rejected_execution_exception", "rejected execution of TimedRunnable on QueueResizingEsThreadPoolExecutor"
              "[name = fakees-0/search, queue capacity = 1000]")
    return EsError(status, "search_phase_execution_exception", "all shards failed",
                   extra={"phase": "query", "grouped": True,
                          "failed_shards": [{"shard": 0, "index": "logs-shipper.syslog-default", "node": "fakees-0",
                                             "reason": shard_cause}]},
                   caused_by=shard_cause)
