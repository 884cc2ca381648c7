"""``_bulk``: per-item results as Elasticsearch returns them, with the faults a test scripts."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.fakees.errors import EsError, cause

if TYPE_CHECKING:
    from tests.fakees.cluster import Cluster

_OPS = ("create", "index", "update", "delete")


@dataclass
class Faults:
    """What the fake does wrong, on purpose. Tests set these fields; the fake consumes them."""

    item_429_times: int = 0  # every document is rejected with an item-level 429 this many times first
    item_503_times: int = 0  # same, with an item-level 503 (unavailable_shards_exception)
    item_500_times: int = 0  # same, with an item-level 500 (an exception Elasticsearch has no status for)
    request_statuses: list[int] = field(default_factory=list)  # next _bulk requests fail whole with these
    item_403: bool = False  # every item fails with a 403 (the key may not write there)
    _item_attempts: dict[str, int] = field(default_factory=dict)

    def item_fault(self, doc_id: str, index: str, forbidden: bool) -> tuple[int, dict[str, Any]] | None:
        n = self._item_attempts.get(doc_id, 0)
        self._item_attempts[doc_id] = n + 1
        if self.item_403 or forbidden:
            return 403, cause("security_exception",
                              f"action [indices:data/write/bulk[s]] is unauthorized for user [shipper] "
                              f"with effective roles [shipper_reader] on indices [{index}], this action is "
                              "granted by the index privileges [create_doc,create,index,write,all]")
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


def run_bulk(cluster: "Cluster", body: bytes, path_index: str | None, forbidden: bool) -> dict[str, Any]:
    lines = parse_lines(body)
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
        items.append({op: _item(cluster, op, meta, source, path_index, forbidden)})
    cluster.counters["bulk_items"] += len(items)
    errors = any("error" in next(iter(it.values())) for it in items)
    return {"errors": errors, "took": 3, "items": items}


def _item(cluster: "Cluster", op: str, meta: dict[str, Any], source: bytes | None, path_index: str | None,
          forbidden: bool) -> dict[str, Any]:
    target = meta.get("_index") or path_index
    if target is None:
        return _failed("_na_", meta.get("_id"), 400, cause("action_request_validation_exception",
                                                          "Validation Failed: 1: index is missing;"))
    doc_id = meta.get("_id") or cluster.auto_id()
    stream = cluster.target(target)
    result = {"_index": stream.backing, "_id": doc_id}
    if stream.is_data_stream and op != "create":
        return _failed(stream.backing, doc_id, 400, cause(
            "illegal_argument_exception",
            f"only write ops with an op_type of create are allowed in data streams"))
    fault = cluster.faults.item_fault(doc_id, target, forbidden)
    if fault is not None:
        return _failed(stream.backing, doc_id, *fault)
    try:
        doc = json.loads(source or b"")
    except ValueError as exc:
        return _failed(stream.backing, doc_id, 400, cause(
            cluster.parsing_type, f"[1:1] failed to parse: {exc}"))
    if op == "create" and doc_id in stream.docs:
        return _failed(stream.backing, doc_id, 409, cause(
            "version_conflict_engine_exception",
            f"[{doc_id}]: version conflict, document already exists (current version [1])",
            extra={"index_uuid": "aAsFqTI0Tc2W0LCWgPNrOA", "shard": "0", "index": stream.backing}))
    error = stream.validator.check(doc, doc_id)
    if error is not None:
        return _failed(stream.backing, doc_id, 400, error)
    stream.docs[doc_id] = doc
    return {**result, "_version": 1, "result": "created",
            "_shards": {"total": 2, "successful": 1, "failed": 0},
            "_seq_no": len(stream.docs) - 1, "_primary_term": 1, "status": 201}


def _failed(index: str, doc_id: Any, status: int, error: dict[str, Any]) -> dict[str, Any]:
    return {"_index": index, "_id": doc_id, "status": status, "error": error}
