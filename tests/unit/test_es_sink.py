"""The Elasticsearch sink against an Elasticsearch-protocol server (tests/fakees): delivery exactly
once, retries item by item, the dead letter, outages, credentials, 8.x and 9.x."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Iterator

import orjson
import pytest

from shipper.config.elasticsearch import ElasticsearchOutput
from shipper.errors import OutputError, UnavailableError
from shipper.event import Batch
from shipper.sinks.deadletter import FILENAME, DeadLetterStore
from shipper.sinks.elasticsearch import ElasticsearchSink
from tests.fakees import FakeES
from tests.helpers.es import FAST, Acks, err, make_env, run_command, run_sink, syslog_docs

SYSLOG = "logs-shipper.syslog-default"


@pytest.fixture(params=["8.15.3", "9.1.0"])
def es(request: pytest.FixtureRequest) -> Iterator[FakeES]:
    with FakeES(request.param) as fake:
        yield fake


@pytest.fixture
def set_up(es: FakeES) -> FakeES:
    assert run_command("setup", ["--es-url", es.url], make_env()) == 0
    return es


def batches(n_batches: int, size: int) -> list[list[dict]]:
    return [syslog_docs(size, start=b * size) for b in range(n_batches)]


def test_every_document_is_delivered_once_and_every_batch_acknowledged(set_up: FakeES, tmp_path: Path) -> None:
    sink, acks = run_sink(set_up.url, batches(30, 70), tmp_path, bulk_max_docs=100)
    stored = set_up.docs(SYSLOG)
    assert len(stored) == 2100 and sorted(acks) == list(range(30))
    assert sink.counters["indexed"] == 2100 and sink.counters["requests"] == 21
    doc = stored["doc-0000042"]
    assert doc["data_stream"] == {"type": "logs", "dataset": "shipper.syslog", "namespace": "default"}
    assert doc["process"]["pid"] == 1042


def test_item_level_429_storm_is_retried_item_by_item_and_delivered_exactly_once(set_up: FakeES, tmp_path: Path) -> None:
    set_up.faults.item_429_times = 2  # every item is rejected twice inside a 200, then accepted
    sink, acks = run_sink(set_up.url, batches(10, 50), tmp_path, bulk_max_docs=120)
    assert len(set_up.docs(SYSLOG)) == 500 and sorted(acks) == list(range(10))
    assert sink.counters["indexed"] == 500 and sink.counters["duplicates"] == 0
    assert sink.counters["retried_items"] == 1000
    assert set_up.cluster.counters["bulk_items"] == 1500  # 500 docs x 3 tries: nothing re-sent that was accepted


def test_only_the_failed_items_are_resent(set_up: FakeES, tmp_path: Path) -> None:
    docs = syslog_docs(10)
    set_up.faults.item_429_times = 1
    run_sink(set_up.url, [docs[:5]], tmp_path)
    set_up.faults.item_429_times = 0
    sink, acks = run_sink(set_up.url, [docs], tmp_path)  # 5 already there: 409 = delivered
    assert acks == [0] and sink.counters["duplicates"] == 5 and sink.counters["indexed"] == 5


def test_replay_of_the_same_data_is_absorbed_as_duplicates(set_up: FakeES, tmp_path: Path) -> None:
    run_sink(set_up.url, batches(3, 100), tmp_path)
    sink, acks = run_sink(set_up.url, batches(3, 100), tmp_path)
    assert sorted(acks) == [0, 1, 2]
    assert sink.counters["duplicates"] == 300 and sink.counters["indexed"] == 0
    assert sink.counters["dead_lettered"] == 0 and len(set_up.docs(SYSLOG)) == 300


def test_a_poisoned_document_goes_to_the_dead_letter_and_the_rest_flows(set_up: FakeES, tmp_path: Path) -> None:
    docs = syslog_docs(200)
    docs[77] = {**docs[77], "host": "gorp"}  # host is an object in the mapping: refused, 400
    sink, acks = run_sink(set_up.url, [docs[:100], docs[100:]], tmp_path)
    assert sorted(acks) == [0, 1]
    assert sink.counters["indexed"] == 199 and sink.counters["dead_lettered"] == 1
    assert "doc-0000077" not in set_up.docs(SYSLOG) and len(set_up.docs(SYSLOG)) == 199
    store = DeadLetterStore(tmp_path / "state" / FILENAME)
    (letter,) = store.letters()
    store.close()
    assert letter.doc_id == "doc-0000077" and letter.target == SYSLOG and letter.status == 400
    assert letter.error_type in ("document_parsing_exception", "mapper_parsing_exception")
    assert "tried to parse field [host] as object" in letter.reason
    assert orjson.loads(letter.source)["host"] == "gorp"


def test_malformed_values_are_kept_not_refused_as_elastics_logs_settings_do(set_up: FakeES, tmp_path: Path) -> None:
    docs = syslog_docs(3)
    docs[1]["process"]["pid"] = "not-a-number"  # ignore_malformed: indexed, the value stays in _source
    sink, _ = run_sink(set_up.url, [docs], tmp_path)
    assert sink.counters["indexed"] == 3 and set_up.docs(SYSLOG)["doc-0000001"]["process"]["pid"] == "not-a-number"


def test_the_dead_letter_data_stream_keeps_the_document_as_a_string(set_up: FakeES, tmp_path: Path) -> None:
    docs = syslog_docs(3)
    del docs[2]["@timestamp"]  # a data stream document needs one: refused
    sink, acks = run_sink(set_up.url, [docs], tmp_path, deadletter_index=True)
    assert acks == [0] and sink.counters["dead_lettered"] == 1
    (copy,) = set_up.docs("logs-shipper.deadletter-default").values()
    assert orjson.loads(copy["event"]["original"])["event"]["id"] == "doc-0000002"
    assert copy["event"]["id"] == "doc-0000002" and copy["shipper"]["deadletter"]["status"] == 400
    assert "@timestamp] is missing" in copy["error"]["message"]


def test_whole_request_429_and_503_are_retried(set_up: FakeES, tmp_path: Path) -> None:
    set_up.faults.request_statuses = [429, 503, 503]
    env = make_env()
    sink, acks = run_sink(set_up.url, batches(2, 10), tmp_path, env=env)
    assert sorted(acks) == [0, 1] and len(set_up.docs(SYSLOG)) == 20
    assert sink.counters["request_retries"] == 3
    assert "retrying with backoff" in err(env) and "answers again" in err(env)


def test_an_outage_loses_nothing_and_memory_stays_bounded(set_up: FakeES, tmp_path: Path) -> None:
    cfg = ElasticsearchOutput(hosts=[set_up.url], bulk_max_docs=50, max_held_events=200, **FAST)
    env = make_env()
    sink = ElasticsearchSink(cfg, tmp_path / "state", env)
    acks = Acks()
    sink.open(acks)
    held: list[int] = []
    started = time.monotonic()
    for seq, docs in enumerate(batches(40, 25)):
        if seq == 5:
            set_up.outage(0.6)  # connection refused for 0.6 s
        sink.write(Batch(docs, seq=seq))
        held.append(sink._held)
    sink.flush()
    sink.close()
    assert time.monotonic() - started >= 0.5  # write waited out the outage (backpressure)
    assert max(held) <= 200 + 25  # the bound, plus the one batch being accepted
    assert sorted(acks) == list(range(40)) and len(set_up.docs(SYSLOG)) == 1000
    assert sink.counters["request_retries"] >= 1
    # one short reason, whichever way the first request saw the server go
    assert re.search(r"is failing \((\[Errno \d+\] )?(Connection refused|Connection reset by peer|"
                     r"Remote end closed connection without response)\); retrying with backoff", err(env)), err(env)


def test_bad_credentials_are_one_clear_error_without_a_retry_loop(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("c2hpcHBlcjp3cm9uZy1rZXktdmFsdWU=\n")
    with FakeES("9.1.0", credentials={}) as es:
        cfg = ElasticsearchOutput(hosts=[es.url], api_key_file=key_file, **FAST)
        sink = ElasticsearchSink(cfg, tmp_path / "state", make_env())
        with pytest.raises(UnavailableError) as caught:
            sink.open(Acks())
        assert es.cluster.counters["requests"] == 1
    message = str(caught.value)
    assert "rejected the credentials (401)" in message and "api_key_file" in message
    assert "c2hpcHBlcjp3cm9uZy1rZXktdmFsdWU=" not in message


def test_a_key_that_may_not_write_stops_at_once(tmp_path: Path) -> None:
    from tests.fakees import Grant

    reader = Grant(user="reader", cluster={"monitor"}, index={"read"})
    with FakeES("8.15.3", credentials={"ApiKey cmVhZGVyOmtleQ==": reader}) as es:
        key = tmp_path / "key"
        key.write_text("cmVhZGVyOmtleQ==")
        with pytest.raises(UnavailableError, match="does not let shipper write documents \\(403\\)"):
            run_sink(es.url, batches(3, 10), tmp_path, api_key_file=key)
        assert [p for _, p, _ in es.cluster.log].count("/_bulk") == 1  # one request, no retry loop


def test_a_413_halves_the_request(set_up: FakeES, tmp_path: Path) -> None:
    set_up.faults.request_statuses = [413]
    sink, acks = run_sink(set_up.url, batches(1, 40), tmp_path)
    assert acks == [0] and len(set_up.docs(SYSLOG)) == 40 and sink.counters["requests"] == 3


def test_gzip_bodies_are_accepted(set_up: FakeES, tmp_path: Path) -> None:
    sink, acks = run_sink(set_up.url, batches(2, 30), tmp_path, compression="gzip")
    assert len(set_up.docs(SYSLOG)) == 60
    bulk_headers = [h for m, p, h in set_up.cluster.log if p == "/_bulk"]
    assert bulk_headers and all(h.get("content-encoding") == "gzip" for h in bulk_headers)


def test_compatibility_headers_follow_the_server_major(es: FakeES, tmp_path: Path) -> None:
    run_sink(es.url, batches(1, 5), tmp_path)
    major = es.cluster.major
    first, *rest = es.cluster.log
    assert "compatible-with" not in first[2].get("accept", "")  # GET /: no marker until the version is known
    bulk = [h for m, p, h in rest if p == "/_bulk"]
    assert bulk[0]["accept"].endswith(f"compatible-with={major}")
    assert bulk[0]["content-type"] == f"application/vnd.elasticsearch+x-ndjson; compatible-with={major}"


def test_requests_run_on_workers_but_acks_arrive_on_the_callers_thread(set_up: FakeES, tmp_path: Path) -> None:
    threads: set[str] = set()
    cfg = ElasticsearchOutput(hosts=[set_up.url], bulk_max_docs=10, max_in_flight=4, **FAST)
    sink = ElasticsearchSink(cfg, tmp_path / "state", make_env())
    sink.open(lambda seq: threads.add(threading.current_thread().name))
    for seq, docs in enumerate(batches(20, 10)):
        sink.write(Batch(docs, seq=seq))
    sink.flush()
    sink.close()
    assert threads == {threading.current_thread().name}


def test_an_unwritable_state_directory_fails_at_open(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    sink = ElasticsearchSink(ElasticsearchOutput(hosts=["http://127.0.0.1:9"]), blocker / "state", make_env())
    with pytest.raises(OutputError, match="state directory"):
        sink.open(Acks())


def test_a_missing_index_template_is_reported_at_open(es: FakeES, tmp_path: Path) -> None:
    env = make_env()
    run_sink(es.url, batches(1, 1), tmp_path, env=env)
    assert "index template logs-shipper is not installed" in err(env) and "shipper setup" in err(env)


def test_an_empty_batch_is_acknowledged_at_once(set_up: FakeES, tmp_path: Path) -> None:
    _, acks = run_sink(set_up.url, [[], syslog_docs(2), []], tmp_path)
    assert sorted(acks) == [0, 1, 2]


def test_an_item_that_keeps_failing_with_5xx_is_dead_lettered_after_the_retries(set_up: FakeES, tmp_path: Path) -> None:
    set_up.faults.item_503_times = 100  # a shard that never comes back for these documents
    sink, acks = run_sink(set_up.url, batches(1, 4), tmp_path, max_item_retries=3)
    assert acks == [0] and sink.counters["dead_lettered"] == 4 and sink.counters["retried_items"] == 12
    store = DeadLetterStore(tmp_path / "state" / FILENAME)
    assert {x.status for x in store.letters()} == {503}
    store.close()


def test_giving_up_after_a_long_outage_is_one_clear_error_and_acknowledges_nothing(es: FakeES, tmp_path: Path) -> None:
    cfg = ElasticsearchOutput(hosts=[es.url], give_up_after=0.3, **FAST)
    sink = ElasticsearchSink(cfg, tmp_path / "state", make_env())
    acks = Acks()
    sink.open(acks)
    es.stop()
    sink.write(Batch(syslog_docs(10), seq=0))
    with pytest.raises(UnavailableError, match="has been failing for") as caught:
        sink.flush()
    sink.close()
    assert acks == [] and "nothing was lost" in str(caught.value)
