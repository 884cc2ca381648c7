"""``_bulk``: per-item results as Elasticsearch returns them, with the faults a test scripts."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.fakees.errors import EsError, cause

if TYPE_CHECKING:
    from tests.fakees.cluster import Cluster, Stream

_OPS = ("create", "index", "update", "delete")


@dataclass
class Faults:
    """What the fake does wrong, on purpose. Tests set these fields; the fake consumes them."""

    item_429_times: int = 0  # every document is rejected with an item-level 429 this many times first
    item_503_times: int = 0  # same, with an item-level 503 (unavailable_shards_exception)
    item_500_times: int = 0  # same, with an item-level 500 (an exception Elasticsearch has no status for)
    request_statuses: list[int] = field(default_factory=list)  # next _bulk requests fail whole with these
    item_403: bool = False  # every item fails with a 403 (the key may not write there)
    search_statuses: list[int] = field(default_factory=list)  # next _search requests fail whole with these
    # _id -> how many of the next _bulk requests find that document changed (indexed again by another
    # writer) just before they run: a write conditioned on what was read before then gets a 409
    touch: dict[str, int] = field(default_factory=dict)
    _item_attempts: dict[str, int] = field(default_factory=dict)

    def item_fault(self, doc_id: str, index: str, granted_by: str | None) -> tuple[int, dict[str, Any]] | None:
        """``granted_by``: the privileges the item's action needs, when the credentials have none of them."""
        n = self._item_attempts.get(doc_id, 0)
        self._item_attempts[doc_id] = n + 1
        if self.item_403 or granted_by:
            return 403, cause("security_exception",
                              f"action [indices:data/write/bulk[s]] is unauthorized for user [shipper] "
                              f"with effective roles [shipper_reader] on indices [{index}], this action is "
                              f"granted by the index privileges [{granted_by or 'create_doc,create,index,write,all'}]")
        if n < self.item_429_times:
            return 429, cause("es_rejected_execution_exception",
                              "rejected execution of coordinating operation [coordinating_and_primary_bytes=104857600, "
                              "replica_bytes=0, all_bytes=104857600, coordinating_operation_bytes=2048, "
                              "max_coordinating_and_primary_bytes=104857600]")
        if n < self.item_429_times + self.item_503_times:
            return 503, cause("unavailable_shards_exception",
                              f"[{index}][0] primary shard is not active Timeout: [1m]")
        if n < self.item_429_times + self.item_503_times + self.item_500_times:
            return 500, cause("illegal_state_exception", f"[{index}] failed to execute the write on the primary")
        return None


def parse_lines(body: bytes) -> list[bytes]:
    if body and not body.endswith(b"\n"):
        raise EsError(400, "illegal_argument_exception", "The bulk request must be terminated by a newline [\\n]")
    return [line for line in body.split(b"\n") if line.strip()]


# The index privileges that grant each bulk action (Elasticsearch's IndexPrivilege): `create_doc`
# may only add documents.
_GRANTED_BY = {"create": ("create_doc", "create", "index", "write", "all"),
               "index": ("create", "index", "write", "all"),
               "update": ("index", "write", "all"),
               "delete": ("delete", "write", "all")}


def run_bulk(cluster: "Cluster", body: bytes, path_index: str | None, granted: set[str]) -> dict[str, Any]:
    lines = parse_lines(body)
    _touch(cluster)
    items: list[dict[str, Any]] = []
    i = 0
    while i < len(lines):
        try:
            action = json.loads(lines[i])
        except ValueError as exc:
            raise EsError(400, "x_content_parse_exception", f"[1:1] Malformed action/metadata line [{i + 1}]: {exc}")
        if not isinstance(action, dict) or len(action) != 1 or next(iter(action)) not in _OPS:
            raise EsError(400, "illegal_argument_exception",
                          f"Malformed action/metadata line [{i + 1}], expected a simple value for field [_index] "
                          "but found [START_OBJECT]")
        op, meta = next(iter(action.items()))
        source = lines[i + 1] if op != "delete" and i + 1 < len(lines) else None
        i += 1 if op == "delete" else 2
        needed = _GRANTED_BY[op]
        forbidden = None if granted & set(needed) else ",".join(needed)
        items.append({op: _item(cluster, op, meta, source, path_index, forbidden)})
    cluster.counters["bulk_items"] += len(items)
    errors = any("error" in next(iter(it.values())) for it in items)
    return {"errors": errors, "took": 3, "items": items}


def _touch(cluster: "Cluster") -> None:
    """`Faults.touch`: another writer indexes these documents again (same source, new _seq_no)."""
    for doc_id, times in list(cluster.faults.touch.items()):
        for stream in cluster.streams.values():
            if doc_id in stream.docs:
                stream.store(doc_id, stream.docs[doc_id])
        if times > 1:
            cluster.faults.touch[doc_id] = times - 1
        else:
            del cluster.faults.touch[doc_id]


def _item(cluster: "Cluster", op: str, meta: dict[str, Any], source: bytes | None, path_index: str | None,
          forbidden: str | None) -> dict[str, Any]:
    target = meta.get("_index") or path_index
    if target is None:
        return _failed("_na_", meta.get("_id"), 400, cause("action_request_validation_exception",
                                                          "Validation Failed: 1: index is missing;"))
    doc_id = meta.get("_id") or cluster.auto_id()
    stream = cluster.target(target)
    refused = _refused_op(stream, target, op, meta)
    if refused is not None:
        return _failed(stream.backing, doc_id, 400, refused)
    fault = cluster.faults.item_fault(doc_id, target, forbidden)
    if fault is not None:
        return _failed(stream.backing, doc_id, *fault)
    try:
        doc = json.loads(source or b"")
    except ValueError as exc:
        return _failed(stream.backing, doc_id, 400, cause(
            cluster.parsing_type, f"[1:1] failed to parse: {exc}"))
    conflict = _conflict(stream, op, meta, doc_id)
    if conflict is not None:
        return _failed(stream.backing, doc_id, 409, cause(
            "version_conflict_engine_exception", conflict,
            extra={"index_uuid": "aAsFqTI0Tc2W0LCWgPNrOA", "shard": "0", "index": stream.backing}))
    error = stream.validator.check(doc, doc_id)
    if error is not None:
        return _failed(stream.backing, doc_id, 400, error)
    existed = doc_id in stream.docs
    stored = stream.store(doc_id, doc)
    return {"_index": stream.backing, "_id": doc_id, "_version": stored.version,
            "result": "updated" if existed else "created", "_shards": {"total": 2, "successful": 1, "failed": 0},
            "_seq_no": stored.seq_no, "_primary_term": stored.primary_term, "status": 200 if existed else 201}


def _refused_op(stream: "Stream", target: str, op: str, meta: dict[str, Any]) -> dict[str, Any] | None:
    """A data stream takes `create` only; its backing index takes `index` only with the
    `if_seq_no` and `if_primary_term` of the document it replaces (Elasticsearch's
    "update or delete documents in a backing index")."""
    if not stream.is_data_stream or op == "create":
        return None
    if target == stream.name:
        return cause("illegal_argument_exception", "only write ops with an op_type of create are allowed in data streams")
    if op == "index" and ("if_seq_no" not in meta or "if_primary_term" not in meta):
        return cause("illegal_argument_exception",
                     "index request with op_type=index and no if_primary_term and if_seq_no set targeting backing "
                     f"indices is disallowed, target corresponding data stream [{stream.name}] instead")
    return None


def _conflict(stream: "Stream", op: str, meta: dict[str, Any], doc_id: str) -> str | None:
    """The reason of a version conflict (InternalEngine's texts), or None."""
    current = stream.meta.get(doc_id)
    if op == "create":
        return f"[{doc_id}]: version conflict, document already exists (current version [{current.version}])" \
            if current else None
    if "if_seq_no" not in meta:
        return None
    required = f"[{doc_id}]: version conflict, required seqNo [{meta['if_seq_no']}], primary term [{meta.get('if_primary_term')}]"
    if current is None:
        return f"{required}. but no document was found"
    if (current.seq_no, current.primary_term) != (meta["if_seq_no"], meta.get("if_primary_term")):
        return f"{required}. current document has seqNo [{current.seq_no}] and primary term [{current.primary_term}]"
    return None


def _failed(index: str, doc_id: Any, status: int, error: dict[str, Any]) -> dict[str, Any]:
    return {"_index": index, "_id": doc_id, "status": status, "error": error}
