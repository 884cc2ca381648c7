"""The two messages of the Elasticsearch sink about items it retries in a replay count the same tries:
the one said when the retries begin ("… (N tries), then they go to the dead letter") and the one said
when they ran out ("… dead-lettered after retrying for … (N tries)"). The first send is try 1, so N
is ``max_item_retries`` + 1: the bulk requests the fake was sent ("1 try" when there was no retry)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers.es import err, make_env, run_sink, set_up_es, syslog_docs


@pytest.mark.parametrize("retries", [0, 2])
def test_h3_the_announced_and_the_given_up_tries_are_the_requests_sent(tmp_path: Path, retries: int) -> None:
    with set_up_es() as es:
        es.faults.item_503_times = 100  # never taken while the replay runs
        env = make_env()
        sink, acks = run_sink(es.url, [syslog_docs(7)], tmp_path, env=env, max_item_retries=retries)
        sent = [path for _, path, _ in es.cluster.log].count("/_bulk")
    assert acks == [0] and sink.counters["dead_lettered"] == 7 and sent == retries + 1
    said = err(env)
    tries = f"{retries + 1} tries" if retries else "1 try"
    assert re.findall(r"\(([^()]*)\), then they go to the dead letter", said) == ([tries] if retries else []), said
    assert f"7 documents dead-lettered after retrying for 0 s ({tries}): 503 unavailable_shards_exception" in said, said
