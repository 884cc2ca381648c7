"""Retries of whole bulk requests (a 500 for all) do not use up the item-level retries that
``output.elasticsearch.max_item_retries`` allows: after three failed requests, items that then fail
with a 500 are still sent again ``max_item_retries`` times, over real HTTP to the fake, before they
go to the dead letter; the message counts every send as a try."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.es import err, make_env, run_sink, set_up_es, syslog_docs


def _sent(es_log: list[tuple[str, str, dict[str, str]]]) -> int:
    return [path for _, path, _ in es_log].count("/_bulk")


def test_h7_items_get_their_retries_after_the_whole_request_was_retried(tmp_path: Path) -> None:
    with set_up_es() as es:
        es.faults.request_statuses = [500, 500, 500]
        es.faults.item_500_times = 2  # taken at the 3rd try of the items: max_item_retries 2 allows it
        env = make_env()
        sink, acks = run_sink(es.url, [syslog_docs(7)], tmp_path, env=env, max_item_retries=2)
        sent = _sent(es.cluster.log)
        assert acks == [0] and len(es.docs("logs-shipper.syslog-default")) == 7
    assert sink.counters["dead_lettered"] == 0 and sink.counters["retried_items"] == 14, (sink.counters, err(env))
    assert sink.counters["request_retries"] == 3 and sent == 6


def test_h7_the_items_go_to_the_dead_letter_after_their_own_retries_counting_every_try(tmp_path: Path) -> None:
    with set_up_es() as es:
        es.faults.request_statuses = [500, 500, 500]
        es.faults.item_500_times = 100
        env = make_env()
        sink, acks = run_sink(es.url, [syslog_docs(7)], tmp_path, env=env, max_item_retries=2)
        sent = _sent(es.cluster.log)
    assert acks == [0] and sink.counters["dead_lettered"] == 7 and sink.counters["retried_items"] == 14
    assert sent == 3 + 1 + 2
    assert "7 documents dead-lettered after retrying for 0 s (6 tries): 500 " in err(env), err(env)

