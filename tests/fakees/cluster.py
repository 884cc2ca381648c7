"""The fake cluster's state and REST endpoints: what Elasticsearch answers, minus the search engine."""

from __future__ import annotations

import gzip
import itertools
import json
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import parse_qs

from tests.fakees.bulk import Faults, run_bulk
from tests.fakees.errors import EsError, unauthenticated, unauthorized
from tests.fakees.mapping import (
    Validator,
    data_stream_backing_index,
    ignore_malformed,
    matching_template,
    merged_mappings,
)

_COMPAT = re.compile(r"compatible-with=(\d+)")
Handler = Callable[["Cluster", "Request", dict[str, str]], tuple[int, Any]]


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    user: str = ""


@dataclass
class Grant:
    """What one credential may do (an Authorization header value maps to one)."""

    user: str = "shipper"
    cluster: set[str] = field(default_factory=lambda: {"all"})
    index: set[str] = field(default_factory=lambda: {"all"})  # privileges on every index pattern


@dataclass
class Meta:
    """What Elasticsearch keeps of a document besides its source (one shard per index here)."""

    seq_no: int
    primary_term: int = 1
    version: int = 1


@dataclass
class Stream:
    name: str
    backing: str
    is_data_stream: bool
    validator: Validator
    docs: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Meta] = field(default_factory=dict)  # by _id, as docs
    next_seq_no: int = 0

    def store(self, doc_id: str, doc: Any) -> Meta:
        """Index ``doc``: a new sequence number, the version one more than before."""
        old = self.meta.get(doc_id)
        self.docs[doc_id] = doc
        self.meta[doc_id] = Meta(self.next_seq_no, version=old.version + 1 if old else 1)
        self.next_seq_no += 1
        return self.meta[doc_id]


class Cluster:
    def __init__(self, version: str, credentials: dict[str, Grant] | None, security: bool) -> None:
        self.version = version
        self.major = int(version.split(".")[0])
        minor = int(version.split(".")[1])
        self.parsing_type = "document_parsing_exception" if (self.major, minor) >= (8, 8) else "mapper_parsing_exception"
        self.credentials = credentials
        self.security = security
        self.faults = Faults()
        self.lock = threading.Lock()
        self.streams: dict[str, Stream] = {}
        self.index_templates: dict[str, dict[str, Any]] = {}
        self.component_templates: dict[str, dict[str, Any]] = {}
        self.ilm_policies: dict[str, dict[str, Any]] = {}
        self.pipelines: dict[str, dict[str, Any]] = {}
        self.pits: dict[str, Any] = {}  # point in time id -> tests.fakees.search.Pit
        self.counters: Counter[str] = Counter()
        self.log: list[tuple[str, str, dict[str, str]]] = []  # method, path, headers of every request
        self._ids = itertools.count()

    # -- the request pipeline ------------------------------------------------------------------
    def handle(self, req: Request) -> tuple[int, Any, dict[str, str]]:
        with self.lock:
            self.log.append((req.method, req.path, dict(req.headers)))
            self.counters["requests"] += 1
            try:
                self._check_media_types(req)
                req.user = self._authenticate(req)
                if req.headers.get("content-encoding") == "gzip":
                    req.body = gzip.decompress(req.body)
                status, body = self._route(req)
                return status, _filter(body, req.query.get("filter_path")), {}
            except EsError as exc:
                return exc.status, exc.body(), exc.headers

    def _check_media_types(self, req: Request) -> None:
        """REST API compatibility: ``compatible-with=N`` must be this major or the one before, the same
        on Accept and Content-Type (elasticsearch RestCompatibleVersionHelper; 8.x names both headers)."""
        accept = req.headers.get("accept")
        ctype = req.headers.get("content-type") if req.body else None
        a = _COMPAT.search(accept or "")
        c = _COMPAT.search(ctype or "")
        lowest = self.major - 1
        problem = ""
        if a and not lowest <= int(a.group(1)) <= self.major:
            problem = (f"Accept version must be either version {self.major} or {lowest}, "
                       f"but found {a.group(1)}. Accept={accept}")
        elif c and not lowest <= int(c.group(1)) <= self.major:
            problem = (f"Content-Type version must be either version {self.major} or {lowest}, "
                       f"but found {c.group(1)}. Content-Type={ctype}")
        elif ctype is not None and (a is None) != (c is None):
            problem = ("A compatible version is required on both Content-Type and Accept headers if either one has "
                       f"requested a compatible version. Accept={accept}, Content-Type={ctype}")
        elif a and c and a.group(1) != c.group(1):
            problem = ("A compatible version is required on both Content-Type and Accept headers if either one has "
                       "requested a compatible version and the compatible versions must match. "
                       f"Accept={accept}, Content-Type={ctype}")
        if problem:
            raise EsError(400, "media_type_header_exception",
                          "Invalid media-type value on headers [Accept, Content-Type]",
                          caused_by={"type": "status_exception", "reason": problem})

    def _authenticate(self, req: Request) -> str:
        if not self.security or self.credentials is None:
            return "_anonymous"
        grant = self.credentials.get(req.headers.get("authorization", ""))
        if grant is None:
            raise unauthenticated(req.path)
        return grant.user

    def grant(self, req: Request) -> Grant:
        if not self.security or self.credentials is None:
            return Grant(user="_anonymous")
        return self.credentials[req.headers["authorization"]]

    def require_cluster(self, req: Request, action: str, *privileges: str) -> None:
        grant = self.grant(req)
        if "all" in grant.cluster or grant.cluster & set(privileges):
            return
        raise unauthorized(action, grant.user, f"cluster privileges [{','.join(privileges)},all]")

    def _route(self, req: Request) -> tuple[int, Any]:
        from tests.fakees.routes import ROUTES

        for method, pattern, handler in ROUTES:
            m = pattern.fullmatch(req.path)
            if m and req.method in method.split("|"):
                return handler(self, req, m.groupdict())
        if any(p.fullmatch(req.path) for _, p, _ in ROUTES):
            raise EsError(405, "method_not_allowed",
                          f"Incorrect HTTP method for uri [{req.path}] and method [{req.method}]")
        raise _NoHandler(req.method, req.path)

    # -- state helpers used by the routes ----------------------------------------------------
    def auto_id(self) -> str:
        return f"auto{next(self._ids):016d}"

    def target(self, name: str) -> Stream:
        """The data stream or index ``name``, made as a write would make it; a data stream's
        backing index names its data stream."""
        stream = self.streams.get(name) or next((s for s in self.streams.values() if s.backing == name), None)
        if stream is None:
            found = matching_template(self.index_templates, name)
            mapping: dict[str, Any] = {"properties": {}}
            is_ds = lenient = False
            if found is not None:
                mapping = merged_mappings(found[1], self.component_templates)
                is_ds = "data_stream" in found[1]
                lenient = ignore_malformed(found[1], self.component_templates)
            backing = data_stream_backing_index(name, "2024.01.01") if is_ds else name
            validator = Validator(mapping, data_stream=is_ds, parsing_type=self.parsing_type, ignore_malformed=lenient)
            stream = Stream(name, backing, is_ds, validator)
            self.streams[name] = stream
        return stream

    def bulk(self, req: Request, index: str | None) -> tuple[int, Any]:
        if self.faults.request_statuses:
            status = self.faults.request_statuses.pop(0)
            raise _whole_request_failure(status)
        return 200, run_bulk(self, req.body, index, self.grant(req).index)

    def docs(self, name: str) -> dict[str, Any]:
        """The documents stored in data stream (or index) ``name``, by ``_id``."""
        with self.lock:
            stream = self.streams.get(name)
            return dict(stream.docs) if stream else {}

    def all_docs(self) -> dict[str, dict[str, Any]]:
        with self.lock:
            return {name: dict(s.docs) for name, s in self.streams.items()}


class _NoHandler(EsError):
    """400 for a path no endpoint serves: Elasticsearch 8 and 9 (RestController.handleBadRequest)
    write only an ``error`` string, with no ``status`` beside it as other errors have."""

    def __init__(self, method: str, path: str) -> None:
        super().__init__(400, "illegal_argument_exception", "")
        self.text = f"no handler found for uri [{path}] and method [{method}]"

    def body(self) -> dict[str, Any]:
        return {"error": self.text}


def _whole_request_failure(status: int) -> EsError:
    if status == 429:
        return EsError(429, "es_rejected_execution_exception",
                       "rejected execution of coordinating operation [coordinating_and_primary_bytes=104857600, "
                       "replica_bytes=0, all_bytes=104857600, coordinating_operation_bytes=5242880, "
                       "max_coordinating_and_primary_bytes=104857600]")
    if status == 503:
        return EsError(503, "cluster_block_exception",
                       "blocked by: [SERVICE_UNAVAILABLE/2/no master];")
    if status == 413:
        return EsError(413, "request_entity_too_large", "Request Entity Too Large")
    if status == 500:  # an exception Elasticsearch has no status for is a 500 (ExceptionsHelper.status)
        return EsError(500, "null_pointer_exception",
                       'Cannot invoke "org.elasticsearch.cluster.metadata.IndexAbstraction.getWriteIndex()" '
                       'because "indexAbstraction" is null')
    return EsError(status, "exception", f"scripted failure {status}")


def parse_query(raw: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}


def _filter(body: Any, filter_path: str | None) -> Any:
    """``filter_path``: keep only the listed dotted paths (``*`` matches one level)."""
    if not filter_path or not isinstance(body, (dict, list)):
        return body
    paths = [p.split(".") for p in filter_path.split(",") if p]
    out = _keep(body, paths)
    return out if out is not None else {}


def _keep(node: Any, paths: list[list[str]]) -> Any:
    if any(not p for p in paths):
        return node
    if isinstance(node, list):
        kept = [k for k in (_keep(item, paths) for item in node) if k is not None]
        return kept or None
    if not isinstance(node, dict):
        return None
    out: dict[str, Any] = {}
    for key, value in node.items():
        sub = [p[1:] for p in paths if p[0] in ("*", key)]
        if sub:
            kept = _keep(value, sub)
            if kept is not None:
                out[key] = kept
    return out or None


def dumps(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode("utf-8")
