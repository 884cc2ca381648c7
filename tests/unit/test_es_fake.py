"""The Elasticsearch-protocol test server answers as Elasticsearch documents it (so the other tests mean something)."""

from __future__ import annotations

import socket

import pytest
from elasticsearch import BadRequestError, Elasticsearch

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
    body = b'{"create":{"_index":"x","_id":"1"}}\n{"a":1}\n' * 200
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
