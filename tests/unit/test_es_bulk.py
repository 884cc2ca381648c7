"""The pure part of the Elasticsearch sink: documents -> NDJSON items -> requests cut by count and bytes."""

from __future__ import annotations

import orjson

from shipper.sinks.bulk import Chunker, Encoder, split_item
from tests.helpers.es import syslog_docs


def test_item_is_a_create_with_the_event_id_into_the_dataset_data_stream() -> None:
    doc = syslog_docs(1)[0]
    (item,) = Encoder("prod").encode([doc])
    action, source, end = item.split(b"\n")
    assert end == b""
    assert orjson.loads(action) == {"create": {"_index": "logs-shipper.syslog-prod", "_id": "doc-0000000"}}
    assert orjson.loads(source) == {**doc, "data_stream": {"type": "logs", "dataset": "shipper.syslog", "namespace": "prod"}}


def test_the_shared_document_is_not_changed() -> None:
    doc = syslog_docs(1)[0]
    before = orjson.dumps(doc)
    Encoder("default").encode([doc])
    assert orjson.dumps(doc) == before


def test_datasets_route_to_their_data_streams() -> None:
    enc = Encoder("default")
    for dataset, stream in [("journald", "logs-shipper.journald-default"),
                            ("elasticsearch.server", "logs-shipper.elasticsearch-default"),
                            ("shipper", "logs-shipper.internal-default"),
                            ("something-new", "logs-shipper.other-default")]:
        doc = {"@timestamp": "2017-08-30T14:00:00.000000Z", "message": "x", "event": {"id": "a", "dataset": dataset}}
        meta, _ = split_item(enc.encode([doc])[0])
        assert meta["_index"] == stream


def test_an_existing_data_stream_field_is_replaced_not_duplicated() -> None:
    doc = {**syslog_docs(1)[0], "data_stream": {"type": "logs", "dataset": "old", "namespace": "old"}}
    _, source = split_item(Encoder("default").encode([doc])[0])
    assert source.count(b'"data_stream"') == 1
    assert orjson.loads(source)["data_stream"]["dataset"] == "shipper.syslog"


def test_a_document_without_id_lets_elasticsearch_choose_one() -> None:
    doc = {"@timestamp": "2017-08-30T14:00:00.000000Z", "message": "x"}
    meta, source = split_item(Encoder("default").encode([doc])[0])
    assert meta == {"_index": "logs-shipper.other-default"}
    assert orjson.loads(source)["message"] == "x"


def test_values_orjson_cannot_serialise_become_text_instead_of_a_crash() -> None:
    doc = {**syslog_docs(1)[0], "raw": b"\xff\x00abc", "when": object}
    _, source = split_item(Encoder("default").encode([doc])[0])
    loaded = orjson.loads(source)
    assert loaded["raw"] == "\\xff\x00abc"
    assert loaded["when"] == "<class 'object'>"


def test_ids_with_quotes_are_escaped() -> None:
    doc = {**syslog_docs(1)[0], "event": {"id": 'a"b\\c', "dataset": "syslog"}}
    meta, _ = split_item(Encoder("default").encode([doc])[0])
    assert meta["_id"] == 'a"b\\c'


def test_chunks_are_cut_by_count() -> None:
    items = Encoder("default").encode(syslog_docs(25))
    chunker = Chunker(max_docs=10, max_bytes=10**9)
    full = chunker.add(items[:12], seq=0) + chunker.add(items[12:], seq=1)
    assert [len(c) for c in full] == [10, 10]
    rest = chunker.take()
    assert rest is not None and len(rest) == 5 and chunker.take() is None
    assert full[1].seqs == [0, 0] + [1] * 8
    assert b"".join(c.body() for c in full + [rest]) == b"".join(items)


def test_chunks_are_cut_by_bytes_and_never_exceed_them() -> None:
    items = Encoder("default").encode(syslog_docs(100))
    limit = sum(map(len, items[:7])) + 1
    chunks = Chunker(max_docs=1000, max_bytes=limit).add(items, seq=3)
    assert all(c.nbytes == len(c.body()) <= limit for c in chunks)
    assert len(chunks[0]) == 7
    for chunk, following in zip(chunks, chunks[1:]):
        assert chunk.nbytes + len(following.items[0]) > limit  # packed greedily: the next item did not fit


def test_an_item_larger_than_the_byte_limit_travels_alone() -> None:
    small = Encoder("default").encode(syslog_docs(2))
    big = Encoder("default").encode([{**syslog_docs(1)[0], "message": "x" * 5000}])
    chunks = Chunker(max_docs=100, max_bytes=2048).add([small[0], big[0], small[1]], seq=0)
    assert [len(c) for c in chunks] == [1, 1]
    assert chunks[1].items == big
