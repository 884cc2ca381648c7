"""Workers that send their own bulks (`shipper.parallel.direct`): into an Elasticsearch-protocol
server (tests/fakees) the parallel replay indexes what one process indexes, counts what the
workers' sinks did, sends nothing of a block it did again, and fails as one process fails."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest

from shipper.config.elasticsearch import ElasticsearchOutput
from shipper.config.model import RecogniseConfig
from shipper.enrich.chain import default_enrichers
from shipper.parallel import replay as parallel_replay
from shipper.parallel.replay import ParallelReplay, _direct
from shipper.parse.base import ParseContext
from shipper.parse.dispatch import make_parser
from shipper.pipeline import Pipeline, Summary
from shipper.sinks.deadletter import FILENAME, DeadLetterStore
from shipper.sinks.elasticsearch import ElasticsearchSink
from shipper.sinks.ndjson import NdjsonSink
from shipper.sources.files import TextSource
from shipper.sources.open import open_inputs
from tests.fakees import FakeES
from tests.helpers.es import FAST, err, make_env, run_command
from tests.helpers.rsyslog import maillog_and_messages

CTX = ParseContext(timezone="Europe/Berlin", year=2017)
CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus"


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """loghub's Linux and OpenSSH logs, then the corpus's sendmail and systemd excerpts (with 4 KiB
    blocks, hundreds of jobs)."""
    parts = [CORPUS / "real" / "loghub" / name for name in ("Linux_2k.log", "OpenSSH_2k.log")]
    parts += sorted((CORPUS / "excerpts" / "sendmail").iterdir()) + sorted((CORPUS / "excerpts" / "systemd").iterdir())
    path = tmp_path_factory.mktemp("direct") / "messages"
    path.write_bytes(b"".join(p.read_bytes().rstrip(b"\n") + b"\n" for p in parts if p.is_file()))
    return path


def replay(paths: Path | list[Path], url: str, state: Path, workers: int, **settings: object) -> tuple[Summary, ElasticsearchSink]:
    groups = open_inputs([str(p) for p in (paths if isinstance(paths, list) else [paths])], fmt="auto", max_line_bytes=4096)
    for source in (s for g in groups for s in g.sources):
        if isinstance(source, TextSource):
            source.block_size = 4096
    sink = ElasticsearchSink(ElasticsearchOutput(hosts=[url], **{**FAST, **settings}), state, make_env())  # type: ignore[arg-type]
    enrichers = default_enrichers(RecogniseConfig())
    if workers:
        return ParallelReplay(groups, CTX, enrichers[-1], [sink], workers).run(), sink
    return Pipeline(groups, CTX, make_parser, enrichers, [sink]).run(), sink


def indexed(paths: Path | list[Path], workers: int, tmp_path: Path, **settings: object) -> tuple[dict, Summary, ElasticsearchSink]:
    with FakeES() as es:
        summary, sink = replay(paths, es.url, tmp_path / f"state{workers}", workers, **settings)
        return es.cluster.all_docs(), summary, sink


def test_the_workers_index_what_one_process_indexes(logs: Path, tmp_path: Path) -> None:
    expected, one, _ = indexed(logs, 0, tmp_path)
    got, summary, sink = indexed(logs, 2, tmp_path)
    documents = sum(len(docs) for docs in got.values())
    assert got == expected and documents > 4000
    assert summary.sinks["elasticsearch"]["indexed"] == one.sinks["elasticsearch"]["indexed"] == documents
    # The main process sent the recognised documents only; the workers' sinks the rest.
    assert 0 < sink.counters["indexed"] < documents // 10
    assert summary.sinks["elasticsearch"]["requests"] > sink.counters["requests"]


def test_several_groups_too(tmp_path: Path) -> None:
    """maillog and messages side by side: the workers send the plain documents, the main process
    links the failures of one group with the SYSERRs of the other, then sends them."""
    paths = maillog_and_messages(tmp_path, 30)
    expected, one, _ = indexed(paths, 0, tmp_path)
    got, summary, sink = indexed(paths, 2, tmp_path)
    assert got == expected
    failures = [d["rootcause"] for docs in got.values() for d in docs.values() if d.get("rootcause", {}).get("role") == "failure"]
    assert len(failures) == 30 * 3 and all(f["cause"]["signature"] == "sendmail.bind_address_in_use" for f in failures)
    assert summary.sinks["elasticsearch"]["indexed"] == one.sinks["elasticsearch"]["indexed"]
    assert 0 < sink.counters["indexed"] < summary.sinks["elasticsearch"]["indexed"] // 5


def test_journal_files_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The corpus's Fedora journal (seven compressed files), in segments of 300 entries.

    That machine has no clock: each boot starts at the same second, so the boots' entries come
    interleaved, and some entries of two boots share host, second, process and message. They are
    still so many documents (until ids were counted over the latest seconds, 592 of them were
    taken for their twins and lost), and the index holds exactly the one process's documents."""
    monkeypatch.setattr(parallel_replay, "SEGMENT_ENTRIES", 300)
    journal = CORPUS / "real" / "systemd" / "no-rtc"
    out = io.BytesIO()
    (group,) = open_inputs([str(journal)], fmt="auto", max_line_bytes=4096)
    Pipeline([group], CTX, make_parser, default_enrichers(RecogniseConfig()), [NdjsonSink(out)]).run()
    lines = out.getvalue().splitlines()
    by_id = {doc["event"]["id"]: doc for doc in map(orjson.loads, lines)}
    got, summary, sink = indexed(journal, 2, tmp_path)
    stored = got["logs-shipper.journald-default"]
    assert len(stored) == len(by_id) == len(lines) > 5000
    for doc_id, doc in stored.items():
        del doc["data_stream"]
        assert doc == by_id[doc_id], doc_id
    assert summary.sinks["elasticsearch"]["indexed"] == len(stored) and not summary.sinks["elasticsearch"]["duplicates"]
    assert summary.counters["reruns"] > 0 and sink.counters["indexed"] < len(stored) // 2  # most from the workers


def test_a_block_done_again_is_not_sent_by_its_worker(tmp_path: Path) -> None:
    """A record longer than the warm-up: the worker read the block from a wrong state, the main
    process does it again. Had the worker sent its items, the index would hold documents one
    process never made (the record cut in two)."""
    head = b"Aug 30 14:55:47 host app[1]: first\n"
    record = b"Aug 30 14:55:48 host app[1]: a trace follows\n" + b"".join(b"\tat frame %d\n" % i for i in range(600))
    path = tmp_path / "messages"
    path.write_bytes(head * 50 + record + head * 50)
    expected, _, _ = indexed(path, 0, tmp_path)
    got, summary, _ = indexed(path, 2, tmp_path)
    assert summary.counters["reruns"] >= 1
    assert got == expected


def test_retries_in_the_workers_are_counted(logs: Path, tmp_path: Path) -> None:
    with FakeES() as es:
        es.faults.item_429_times = 1  # every document is refused once, inside a 200
        summary, _ = replay(logs, es.url, tmp_path / "state", 2)
        documents = sum(len(docs) for docs in es.cluster.all_docs().values())
    counts = summary.sinks["elasticsearch"]
    assert counts["indexed"] == counts["retried_items"] == documents > 4000


def test_the_dead_letter_takes_what_the_workers_could_not_deliver(logs: Path, tmp_path: Path) -> None:
    with FakeES() as es:
        es.faults.item_503_times = 100  # a shard that never comes back
        summary, _ = replay(logs, es.url, tmp_path / "state", 2, max_item_retries=2)
    counts = summary.sinks["elasticsearch"]
    assert counts["dead_lettered"] > 4000 and not counts["indexed"]
    store = DeadLetterStore(tmp_path / "state" / FILENAME)
    try:
        assert len(store.letters()) == counts["dead_lettered"]  # three processes wrote the same table
    finally:
        store.close()


def test_a_refusal_met_by_a_worker_ends_the_replay_as_in_one_process(logs: Path) -> None:
    """Every item refused with a 403: the worker's sink stops, and the replay fails with the
    sink's own message and exit status (6), not as a crashed worker (1)."""
    for workers in ("0", "2"):
        with FakeES() as es:
            es.faults.item_403 = True
            env = make_env()
            code = run_command("replay", ["--timezone", "UTC", "--year", "2017", "--workers", workers, "--output", "es",
                                          "--es-url", es.url, "--quiet", str(logs)], env)
        assert code == 6, err(env)
        assert "does not let shipper write documents (403)" in err(env) and "worker" not in err(env)


def test_the_workers_share_the_bound_on_events_held(tmp_path: Path) -> None:
    """``max_held_events`` bounds what the replay holds: each worker's sink gets its share, and
    at least one full request."""
    cfg = ElasticsearchOutput(hosts=["http://127.0.0.1:9"], bulk_max_docs=2000, max_held_events=6000)
    sink = ElasticsearchSink(cfg, tmp_path, make_env())
    shares = {workers: _direct([sink], workers) for workers in (1, 2, 8)}
    assert {w: d.cfg.max_held_events for w, d in shares.items() if d is not None} == {1: 6000, 2: 3000, 8: 2000}
    assert all(d is not None and d.cfg.bulk_max_docs == 2000 for d in shares.values())
