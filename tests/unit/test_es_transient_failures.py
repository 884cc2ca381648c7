"""Transient failures of Elasticsearch, whole request or item by item: a whole-request 500 is
retried like a 503 (it used to stop replay and daemon as "a shipper bug"); items the cluster cannot
take now (503: a shard not active) are said while they are retried; the daemon retries them without
end, a replay a bounded number of times and then says what went to the dead letter and why."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from shipper.config.elasticsearch import ElasticsearchOutput
from shipper.errors import OutputError
from shipper.event import Batch
from shipper.sinks.elasticsearch import ElasticsearchSink
from shipper.sinks.retry import Backoff
from tests.fakees import FakeES
from tests.helpers.es import Acks, err, FAST, make_env, run_command, run_sink, syslog_docs

SYSLOG = "logs-shipper.syslog-default"


def test_a_whole_request_500_is_retried_and_nothing_is_lost(es: FakeES, tmp_path: Path) -> None:
    es.faults.request_statuses = [500, 500]
    env = make_env()
    sink, acks = run_sink(es.url, [syslog_docs(10)], tmp_path, env=env)
    assert acks == [0] and len(es.docs(SYSLOG)) == 10 and sink.counters["request_retries"] == 2
    said = err(env)
    assert "is failing (500 null_pointer_exception: Cannot invoke" in said and "retrying with backoff" in said, said
    assert "answers again" in said and "shipper bug" not in said, said


def test_a_replay_meeting_a_500_delivers_everything(es: FakeES, tmp_path: Path) -> None:
    log = tmp_path / "messages"
    log.write_text("".join(f"Aug 30 15:00:{i:02d} gorp app[{i}]: line {i}\n" for i in range(30)))
    es.faults.request_statuses = [500]
    env = make_env()
    config = tmp_path / "shipper.yml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\n")
    argv = ["--output", "es", "--es-url", es.url, "--config", str(config), "--year", "2017", str(log)]
    assert run_command("replay", argv, env) == 0, err(env)
    assert len(es.docs(SYSLOG)) == 30 and "shipper bug" not in err(env)


def test_a_server_error_that_is_not_retried_is_not_called_a_shipper_bug(es: FakeES, tmp_path: Path) -> None:
    es.faults.request_statuses = [501]
    with pytest.raises(OutputError) as caught:
        run_sink(es.url, [syslog_docs(3)], tmp_path)
    assert "failed a bulk request (501)" in str(caught.value)
    assert "shipper bug" not in caught.value.hint and "Elasticsearch logs" in caught.value.hint


def test_items_retried_in_a_replay_are_said_then_dead_lettered_with_how_long_and_why(es: FakeES,
                                                                                      tmp_path: Path) -> None:
    es.faults.item_503_times = 100  # a shard that does not come back while the replay runs
    env = make_env()
    sink, acks = run_sink(es.url, [syslog_docs(26)], tmp_path, env=env, max_item_retries=3)
    assert acks == [0] and sink.counters["dead_lettered"] == 26
    said = err(env)
    assert ("does not take 26 of 26 documents for now (503 unavailable_shards_exception: "
            "[logs-shipper.syslog-default][0] primary shard is not active") in said, said
    assert "(4 tries), then they go to the dead letter" in said, said
    assert "26 documents dead-lettered after retrying for 0 s (4 tries): 503 unavailable_shards_exception" in said, said
    assert "`shipper deadletter retry` sends them again: run it when the cluster is healthy" in said, said
    assert "answers again" not in said, said  # it did not: the documents were given up on


def test_the_daemon_retries_transient_item_failures_without_end_and_is_failing_meanwhile(es: FakeES,
                                                                                         tmp_path: Path) -> None:
    es.faults.item_503_times = 12  # more tries than max_item_retries allows a replay
    cfg = ElasticsearchOutput(hosts=[es.url], max_item_retries=3, **FAST)
    env = make_env()
    sink = ElasticsearchSink(cfg, tmp_path / "state", env, daemon=True)
    (tmp_path / "state").mkdir()
    acks = Acks()
    sink.open(acks)
    seen: list[bool] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen.append(sink.failing)
            done.wait(0.001)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        sink.write(Batch(syslog_docs(5), seq=0))
        sink.flush()
    finally:
        done.set()
        watcher.join()
        sink.close()
    assert acks == [0] and len(es.docs(SYSLOG)) == 5
    assert sink.counters["dead_lettered"] == 0 and sink.counters["retried_items"] == 60
    assert True in seen and not sink.failing  # failing while retried; not once delivered
    said = err(env)
    assert "does not take 5 of 5 documents for now (503 " in said and "dead letter" not in said, said
    assert "answers again" in said, said


def test_the_bound_said_is_about_what_the_backoff_takes() -> None:
    backoff = Backoff(initial=0.5, cap=30.0)
    assert 300 < backoff.total(20) < 400  # max_item_retries' default: about 6 min (what the tester waited)
