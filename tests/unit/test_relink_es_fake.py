"""The fake cluster answers what `shipper relink` sends as Elasticsearch documents it: a data stream
takes `create` only, a backing index takes `index` only with the `if_seq_no`/`if_primary_term` of
the document it replaces (409 when it changed), a point in time keeps what was there when it was
opened, and a wildcard leaves out what the credentials may not read (so relink asks first)."""

from __future__ import annotations

from typing import Any, Iterator

import pytest
from elasticsearch import ApiError, Elasticsearch

from tests.fakees import FakeES, Grant
from tests.helpers.es import set_up_es

STREAM = "logs-shipper.syslog-default"
DOC = {"@timestamp": "2017-08-30T14:56:07.000000Z", "message": "m", "rootcause": {"role": "failure"}}


@pytest.fixture
def client() -> Iterator[tuple[FakeES, Elasticsearch]]:
    with set_up_es("9.1.0") as fake:
        es = Elasticsearch(fake.url)
        es.bulk(operations=[{"create": {"_index": STREAM, "_id": "a"}}, DOC])
        yield fake, es
        es.close()


def _item(es: Elasticsearch, action: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = next(iter(es.bulk(operations=[action, doc]).body["items"][0].values()))
    return result


def test_a_data_stream_takes_index_only_in_a_backing_index_and_at_the_version_read(
        client: tuple[FakeES, Elasticsearch]) -> None:
    fake, es = client
    backing = fake.cluster.streams[STREAM].backing
    refused = _item(es, {"index": {"_index": STREAM, "_id": "a"}}, DOC)
    assert refused["status"] == 400 and refused["error"]["reason"] == \
        "only write ops with an op_type of create are allowed in data streams"
    blind = _item(es, {"index": {"_index": backing, "_id": "a"}}, DOC)
    assert blind["status"] == 400 and blind["error"]["reason"] == (
        "index request with op_type=index and no if_primary_term and if_seq_no set targeting backing indices is "
        f"disallowed, target corresponding data stream [{STREAM}] instead")
    changed = {**DOC, "message": "n"}
    done = _item(es, {"index": {"_index": backing, "_id": "a", "if_seq_no": 0, "if_primary_term": 1}}, changed)
    assert (done["status"], done["result"], done["_seq_no"], done["_version"]) == (200, "updated", 1, 2)
    stale = _item(es, {"index": {"_index": backing, "_id": "a", "if_seq_no": 0, "if_primary_term": 1}}, DOC)
    assert stale["status"] == 409 and stale["error"]["type"] == "version_conflict_engine_exception"
    assert stale["error"]["reason"] == ("[a]: version conflict, required seqNo [0], primary term [1]. current "
                                        "document has seqNo [1] and primary term [1]")
    assert fake.docs(STREAM)["a"]["message"] == "n"
    got = es.get(index=backing, id="a").body
    assert (got["_seq_no"], got["_primary_term"], got["_source"]["message"]) == (1, 1, "n")


def test_a_point_in_time_sees_what_was_there_when_it_was_opened(client: tuple[FakeES, Elasticsearch]) -> None:
    fake, es = client
    pit = es.open_point_in_time(index="logs-shipper.*-default", keep_alive="1m").body["id"]
    backing = fake.cluster.streams[STREAM].backing
    _item(es, {"index": {"_index": backing, "_id": "a", "if_seq_no": 0, "if_primary_term": 1}}, {**DOC, "message": "n"})
    body = es.search(pit={"id": pit, "keep_alive": "1m"}, query={"exists": {"field": "rootcause.role"}},
                     sort=[{"@timestamp": "asc"}, {"_shard_doc": "asc"}], seq_no_primary_term=True).body
    (hit,) = body["hits"]["hits"]
    assert (hit["_index"], hit["_seq_no"], hit["_source"]["message"]) == (backing, 0, "m")
    assert hit["sort"][0] == 1504104967000 and body["pit_id"] == pit
    with pytest.raises(ApiError) as caught:
        es.search(index=STREAM, pit={"id": pit})
    assert caught.value.meta.status == 400 and "[indices] cannot be used with point in time" in str(caught.value.body)
    assert es.close_point_in_time(id=pit).body == {"succeeded": True, "num_freed": 1}
    with pytest.raises(ApiError) as caught:
        es.search(pit={"id": pit})
    assert caught.value.meta.status == 404 and "search_context_missing_exception" in str(caught.value.body)


def test_a_wildcard_leaves_out_what_may_not_be_read_and_a_name_is_refused() -> None:
    grants = {"ApiKey all": Grant(user="admin"), "ApiKey writer": Grant(user="writer", index={"create_doc"})}
    with FakeES("9.1.0", credentials=grants) as fake:
        admin, writer = Elasticsearch(fake.url, api_key="all"), Elasticsearch(fake.url, api_key="writer")
        admin.bulk(operations=[{"create": {"_index": STREAM, "_id": "a"}}, DOC])
        pit = writer.open_point_in_time(index="logs-shipper.*-default", keep_alive="1m").body["id"]
        assert writer.search(pit={"id": pit}).body["hits"]["hits"] == []  # nothing, and no error
        with pytest.raises(ApiError) as caught:
            writer.open_point_in_time(index=STREAM, keep_alive="1m")
        assert caught.value.meta.status == 403 and "granted by the index privileges [read,all]" in str(caught.value.body)
        refused = next(iter(writer.bulk(operations=[
            {"index": {"_index": fake.cluster.streams[STREAM].backing, "_id": "a", "if_seq_no": 0,
                       "if_primary_term": 1}}, DOC]).body["items"][0].values()))
        assert refused["status"] == 403 and "index privileges [create,index,write,all]" in refused["error"]["reason"]
        admin.close()
        writer.close()
