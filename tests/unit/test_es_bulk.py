"""The pure part of the Elasticsearch sink: documents -> NDJSON items -> requests cut by count and bytes."""

from __future__ import annotations

import random

import orjson
import pytest

from shipper.sinks.bulk import Chunker, Encoder, Reply, read_reply, split_item
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


def _one_by_one(batches: list[list[bytes]], max_docs: int, max_bytes: int) -> list[list[bytes]]:
    """The cutting rule item by item: an item joins the open request unless that would pass a limit."""
    out: list[list[bytes]] = []
    open_: list[bytes] = []
    for items in batches:
        for item in items:
            if open_ and (len(open_) >= max_docs or sum(map(len, open_)) + len(item) > max_bytes):
                out.append(open_)
                open_ = []
            open_.append(item)
        if len(open_) >= max_docs or sum(map(len, open_)) >= max_bytes:
            out.append(open_)
            open_ = []
    return out + ([open_] if open_ else [])


def test_cutting_whole_batches_gives_the_same_requests_as_cutting_item_by_item() -> None:
    rng = random.Random(4)
    for _ in range(300):
        max_docs, max_bytes = rng.randint(1, 12), rng.randint(20, 400)
        batches = [[b"x" * rng.choice([1, 5, 30, 90, 500]) for _ in range(rng.randint(0, 25))] for _ in range(6)]
        chunker = Chunker(max_docs, max_bytes)
        chunks = [c for seq, items in enumerate(batches) for c in chunker.add(items, seq)]
        rest = chunker.take()
        chunks += [rest] if rest else []
        assert [c.items for c in chunks] == _one_by_one(batches, max_docs, max_bytes)
        assert all(c.nbytes == len(c.body()) for c in chunks)
        assert [s for c in chunks for s in c.seqs] == [seq for seq, items in enumerate(batches) for _ in items]


def _reply(items: list[dict], errors: bool | None = None, took_first: bool = False) -> bytes:
    """A bulk reply as Elasticsearch serialises it (compact JSON, the items after the flag)."""
    flag = any("error" in next(iter(i.values())) for i in items) if errors is None else errors
    head = {"took": 7, "errors": flag} if took_first else {"errors": flag}
    return orjson.dumps({**head, "items": items})


CREATED = {"create": {"status": 201}}
EXISTS = {"create": {"status": 409, "error": {"type": "version_conflict_engine_exception",
                                              "reason": "[doc-1]: version conflict, document already exists (current version [1])"}}}
REFUSED = {"create": {"status": 400, "error": {"type": "document_parsing_exception",
                                               "reason": "[1:15] failed to parse field [host] of type [object]",
                                               "caused_by": {"type": "illegal_argument_exception", "reason": "x"}}}}


def test_a_reply_without_errors_is_settled_on_the_flag() -> None:
    assert read_reply(_reply([CREATED] * 3), 3) == Reply(3, 0)
    assert read_reply(_reply([CREATED] * 3, took_first=True), 3) == Reply(3, 0)


def test_a_replay_of_indexed_data_is_settled_without_decoding_each_item() -> None:
    assert read_reply(_reply([EXISTS] * 4), 4) == Reply(0, 4)
    assert read_reply(_reply([EXISTS, CREATED, EXISTS]), 3) == Reply(1, 2)


def test_a_real_failure_gives_every_item_result_in_order() -> None:
    reply = read_reply(_reply([CREATED, REFUSED, EXISTS]), 3)
    assert reply.results is not None
    assert [r["status"] for r in reply.results] == [201, 400, 409]
    assert reply.results[1]["error"]["caused_by"]["type"] == "illegal_argument_exception"


def test_pattern_text_inside_an_error_reason_cannot_pass_for_an_item() -> None:
    sneaky = {"create": {"status": 400, "error": {"type": "x", "reason": '{"status":201}' + orjson.dumps(EXISTS).decode()}}}
    reply = read_reply(_reply([EXISTS, sneaky]), 2)
    assert reply.results is not None and [r["status"] for r in reply.results] == [409, 400]


def test_replies_in_another_layout_are_decoded_in_full() -> None:
    full = {"create": {"_index": ".ds-logs-x", "_id": "1", "status": 409, "error": EXISTS["create"]["error"]}}
    reply = read_reply(_reply([full, full]), 2)  # without filter_path: every field, status not first
    assert reply.results is not None and [r["status"] for r in reply.results] == [409, 409]
    pretty = orjson.dumps({"errors": False, "items": [CREATED]}, option=orjson.OPT_INDENT_2)
    assert read_reply(pretty, 1) == Reply(1, 0)


def test_what_is_not_a_bulk_reply_is_a_value_error() -> None:
    for raw, n in [(b"<html>502 Bad Gateway</html>", 1), (b"{}", 1), (b'{"errors":true,"items":[]}', 2),
                   (b'{"errors":true,"items":[7]}', 1), (b"", 1)]:
        with pytest.raises(ValueError):
            read_reply(raw, n)
