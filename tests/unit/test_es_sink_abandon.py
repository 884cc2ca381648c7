"""An Elasticsearch sink abandoned while it retries (a reload whose run.stop_timeout ran out): it
returns at once, sends and acknowledges nothing more, and gives back what Elasticsearch did not take."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from pathlib import Path

import pytest

from shipper.config.elasticsearch import ElasticsearchOutput
from shipper.event import Batch
from shipper.sinks.bulk import Chunk, Reply
from shipper.sinks.elasticsearch import ElasticsearchSink
from shipper.sinks.es_giveback import Outcome, batches_of
from tests.fakees import FakeES
from tests.helpers.daemon import wait_for
from tests.helpers.es import FAST, Acks, make_env, syslog_docs


@pytest.mark.parametrize("stuck_in", ["flush", "write"])
def test_an_abandoned_sink_returns_at_once_and_gives_back_what_it_held(tmp_path: Path, stuck_in: str) -> None:
    with FakeES("8.15.3") as es:
        es.faults.item_503_times = 10**6  # the daemon retries these without end
        held = 100 if stuck_in == "flush" else 4
        cfg = ElasticsearchOutput(hosts=[es.url], bulk_max_docs=4, max_held_events=held, **FAST)
        (tmp_path / "state").mkdir()
        sink = ElasticsearchSink(cfg, tmp_path / "state", make_env(), daemon=True)
        acks = Acks()
        sink.open(acks)

        def deliver() -> None:
            sink.write(Batch(syslog_docs(5), seq=7))  # over max_held_events: write waits, retrying
            if stuck_in == "flush":
                sink.write(Batch(syslog_docs(3, start=5), seq=8))
                sink.flush()

        courier = threading.Thread(target=deliver)
        courier.start()
        wait_for(lambda: sink.failing and es.cluster.counters["bulk_items"] > 20, 30, "the items retried")
        sink.abandon()
        courier.join(2)
        assert not courier.is_alive(), f"{stuck_in} did not return once abandoned"
        sink.close()
        sent = es.cluster.counters["bulk_items"]
        time.sleep(0.2)
        assert es.cluster.counters["bulk_items"] == sent  # nothing more was sent
        given = sink.give_back()
        assert acks == []
        expected = {7: 5, 8: 3} if stuck_in == "flush" else {7: 5}
        assert {b.seq: b.count for b in given} == expected
        assert all(b.encoded is not None and set(b.encoded) == {"elasticsearch"} for b in given)
        items = [item for b in given for item in (b.encoded or {})["elasticsearch"]]
        assert len(set(items)) == sum(expected.values())  # each document once
        assert es.docs("logs-shipper.syslog-default") == {}


def _finished(outcome: Outcome) -> Future[Outcome]:
    fut: Future[Outcome] = Future()
    fut.set_result(outcome)
    return fut


def test_what_a_finished_request_delivered_is_not_given_back() -> None:
    taken = Chunk([b"a", b"b", b"c", b"d"], [1, 1, 2, 2])
    refused = Chunk([b"e"], [3])
    waiting = Chunk([b"f", b"copy"], [2, -1])  # -1: the dead letter's copy, which its table keeps
    partly = Reply(created=1, existing=1, results=[{"status": 201}, {"status": 503}, {"status": 409}, {"status": 429}])
    finished = {
        _finished(Outcome(200, partly)): taken,
        _finished(Outcome(None, None, ConnectionRefusedError())): refused,
        _finished(Outcome(200, Reply(created=2, existing=0))): Chunk([b"g", b"h"], [4, 4]),
    }
    given = batches_of("elasticsearch", [waiting], finished)
    assert [(b.seq, (b.encoded or {})["elasticsearch"]) for b in given] == [(1, [b"b"]), (2, [b"f", b"d"]), (3, [b"e"])]
