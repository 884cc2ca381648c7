"""The Elasticsearch-protocol test server answers as Elasticsearch documents it (so the other tests mean something)."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from elasticsearch import BadRequestError, Elasticsearch

from shipper.sinks.bulk import FILTER_PATH, Reply, read_reply
from shipper.sinks.es_client import RawJsonSerializer
from tests.fakees import FakeES


def _raw(es: FakeES, request: bytes) -> list[bytes]:
    """Send one raw request; return what arrived in each recv (one send per response -> one piece)."""
    with socket.create_connection(("127.0.0.1", es.port)) as s:
        s.sendall(request)
        pieces = [s.recv(65536)]
        s.settimeout(0.2)
        try:
            while chunk := s.recv(65536):
                pieces.append(chunk)
        except TimeoutError:
            pass
        return pieces


def test_a_9x_client_is_refused_by_an_8x_server_as_elasticsearch_does() -> None:
    with FakeES("8.15.3") as es:
        with pytest.raises(BadRequestError) as caught:
            Elasticsearch(es.url).info()
    err = caught.value.body["error"]
    assert err["type"] == "media_type_header_exception"
    assert err["reason"] == "Invalid media-type value on headers [Accept, Content-Type]"
    assert err["caused_by"]["reason"].startswith("Accept version must be either version 8 or 7, but found 9.")


def test_a_9x_server_accepts_8_and_9_and_answers_with_the_product_header() -> None:
    with FakeES("9.1.0") as es:
        for compat in (8, 9):
            request = (f"GET / HTTP/1.1\r\nHost: x\r\nAccept: application/vnd.elasticsearch+json; compatible-with={compat}"
                       "\r\nConnection: close\r\n\r\n").encode()
            pieces = _raw(es, request)
            head = b"".join(pieces).split(b"\r\n\r\n")[0].decode()
            assert head.startswith("HTTP/1.1 200") and "X-elastic-product: Elasticsearch" in head
        request = b"GET / HTTP/1.1\r\nHost: x\r\nAccept: application/vnd.elasticsearch+json; compatible-with=7\r\n\r\n"
        assert _raw(es, request)[0].startswith(b"HTTP/1.1 400")


def test_each_response_leaves_in_one_piece() -> None:
    body = b'{"create":{"_index":"x","_id":"1"}}\n{"a":1}\n' * 20  # well under one loopback segment
    with FakeES("9.1.0") as es:
        request = (b"POST /_bulk HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\nConnection: close\r\n"
                   + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        pieces = _raw(es, request)
    assert len(pieces) == 1 and b'"status":409' in pieces[0]  # headers and body together


def test_a_bulk_item_conflict_is_a_409_version_conflict() -> None:
    with FakeES("9.1.0") as es:
        client = Elasticsearch(es.url)
        resp = client.bulk(operations=[{"create": {"_index": "x", "_id": "1"}}, {"a": 1}] * 2)
    first, second = (item["create"] for item in resp["items"])
    assert first["status"] == 201 and first["result"] == "created"
    assert second["status"] == 409 and second["error"]["type"] == "version_conflict_engine_exception"
    assert resp["errors"] is True


def test_filter_path_keeps_what_it_names_and_each_item_in_its_place() -> None:
    """Elasticsearch's `filter_path` as the sink uses it: a created item keeps only its status, a
    failed one its status and the named error fields; nothing else, and no item is dropped."""
    first: dict[str, Any] = {"create": {"_index": "x", "_id": "1"}}
    ops = [first, {"a": 1}, first, {"a": 1}, {"create": {"_id": "2"}}, {"a": 1}]  # new, again, no index
    with FakeES("9.1.0") as es:
        client = Elasticsearch(es.url)
        resp = client.bulk(operations=ops, filter_path=FILTER_PATH)
    assert resp.body == {"errors": True, "items": [
        {"create": {"status": 201}},
        {"create": {"status": 409, "error": {"type": "version_conflict_engine_exception",
                                             "reason": "[1]: version conflict, document already exists (current version [1])"}}},
        {"create": {"status": 400, "error": {"type": "action_request_validation_exception",
                                             "reason": "Validation Failed: 1: index is missing;"}}},
    ]}


def test_a_replay_answer_is_read_on_its_bytes() -> None:
    ops: list[dict[str, Any]] = [{"create": {"_index": "x", "_id": str(i)}} if j == 0 else {"a": i}
                                 for i in range(5) for j in (0, 1)]
    with FakeES("9.1.0") as es:
        client = Elasticsearch(es.url, serializers={"application/json": RawJsonSerializer()})
        created = client.bulk(operations=ops, filter_path=FILTER_PATH)
        again = client.bulk(operations=ops[:6] + [{"create": {"_index": "x", "_id": "new"}}, {"a": 0}],
                            filter_path=FILTER_PATH)
    assert read_reply(created.body, 5) == Reply(5, 0)
    assert read_reply(again.body, 4) == Reply(1, 3)
