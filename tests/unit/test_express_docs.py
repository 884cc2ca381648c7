"""The tail (shipper/parallel/_express_docs.c) gives what the Python stages after parsing give,
byte for byte: ids, recognition, sendmail's fields and the encoders, for documents any parser
built (a replay worker's), and for the daemon's batches, whose documents carry their ids.

The inputs are the corpus's Fedora journal and syslog lines, and odd documents: each has one
unusual part (floats, big ints, tuples, subclasses, deep nesting, ids already given, tags, error
messages, unknown datasets, a shared event object, ...).
"""

from __future__ import annotations

import copy
import io
import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from shipper import pipeline
from shipper.config.model import RecogniseConfig
from shipper.enrich.order import roles_of
from shipper.enrich.chain import default_enrichers
from shipper.enrich.recognise import Recognise
from shipper.ids import IdAssigner
from shipper.parallel import express, work
from shipper.parallel.express import Tail
from shipper.parallel.work import Setup, Worker
from shipper.parse.base import ParseContext
from shipper.parse.dispatch import make_parser
from shipper.pipeline import Pipeline, Window
from shipper.sinks.base import Encode, items_of
from shipper.sinks.bulk import Encoder
from shipper.sinks.ndjson import NdjsonSink, encode_lines
from shipper.sources.base import Origin, RawChunk
from shipper.sources.open import open_inputs
from shipper.sinks.rows import encode_rows
from tests.helpers.express import CORPUS, ES_AND_NDJSON, corpus_text, journal_docs, needs_lane, odd_doc


def tail_and_python(docs: list[dict[str, Any]], encoders: dict[str, Encode] = ES_AND_NDJSON, piece: int = 37) -> int:
    """Run the documents through a worker's stages after parsing, with the C tail and without;
    assert both give the same; return how many the tail took."""
    results = []
    taken = 0
    for tail in (True, False):
        worker = Worker(Setup(ParseContext(timezone="UTC"), Window(), encoders))
        if not tail:
            worker._tail = None
        assert (worker._tail is not None) is tail
        ids = IdAssigner(track=True)
        part = worker._part()
        grow = work.Part.grow

        def counted(self: work.Part, n: int) -> None:
            nonlocal taken
            taken += n if tail else 0
            grow(self, n)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(work.Part, "grow", counted)
            for start in range(0, len(docs), piece):
                worker._add(part, copy.deepcopy(docs[start : start + piece]), ids)
        pending = [(i, orjson.dumps(doc)) for i, doc in part.pending]
        results.append((part.items, pending, part.unparsed, part.size, ids.state(), ids.block(), repr(worker.recognise.state())))
    assert results[0] == results[1]
    return taken


@needs_lane
def test_the_tail_on_real_journal_documents() -> None:
    docs = journal_docs()
    assert len(docs) > 10000
    # some of them again, and once more with a second shifted (other ids, other seconds)
    again = copy.deepcopy(docs[:2000])
    for doc in again:
        doc["@timestamp"] = doc["@timestamp"][:18] + "9" + doc["@timestamp"][19:]
    assert tail_and_python(docs + docs[:2000] + again, piece=256) > len(docs) * 3 // 4
    for encoders in ({"es": Encoder("x")}, {"ndjson": encode_lines}, {"store": encode_rows}):
        assert tail_and_python(docs[-3000:], encoders) > 2000


@needs_lane
@pytest.mark.parametrize("seed", range(4))
def test_the_tail_on_odd_documents(seed: int) -> None:
    rng = random.Random(seed)
    docs = [odd_doc(rng, n) for n in range(600)]
    assert tail_and_python(docs) > 150
    assert tail_and_python(docs, {**ES_AND_NDJSON, "store": encode_rows}) > 150  # the local store's rows too


# -- the daemon: documents with their ids, the tail's other mode ----------------------------------


def _session(tmp_path: Path, tail: bool, output: str = "elasticsearch") -> Any:
    from shipper.config.model import load_config
    from shipper.daemon.plan import make_plan
    from shipper.daemon.session import Session
    from shipper.daemon.stats import Stats
    from shipper.env import Env

    tmp_path.mkdir()
    config = tmp_path / "shipper.yml"
    outputs = {"elasticsearch": "output:\n  elasticsearch: {hosts: ['http://127.0.0.1:9']}\n", "the local store": ""}
    config.write_text(f"state_dir: {tmp_path / 'state'}\ninputs: [{{type: file, paths: [{tmp_path / 'x.log'}]}}]\n"
                      + outputs[output])
    env = Env()
    session = Session(make_plan(load_config(config), env, print, env), print, Stats())
    if not tail:
        session._batches._tail = None
    assert (session._batches._tail is not None) is (tail and express.NATIVE and output == "elasticsearch")
    return session


def test_the_daemon_leaves_the_local_stores_rows_to_its_sink(tmp_path: Path) -> None:
    """Into the local store the daemon's batches carry documents, which its sink turns into rows:
    a batch spilled to the disk buffer keeps documents or bytes items only (`outbox.encode_record`),
    so the tail, which would make rows, is not used there."""
    _session(tmp_path / "run", True, "the local store")


@needs_lane
def test_the_daemon_encodes_its_batches_with_the_tail_as_without(tmp_path: Path) -> None:
    """The daemon's streams give ids; batches are recognised, then linked, then encoded. Its
    batches: the corpus's syslog lines and journal, and odd documents, with their ids."""
    lines = corpus_text().decode("utf-8", "replace").splitlines()
    origin = Origin("t", "syslog", path="/var/log/messages")
    parser = make_parser(origin, ParseContext(timezone="UTC", year=2017))
    docs = parser.parse(RawChunk(origin, "text", lines, list(range(len(lines))))) + parser.flush()
    rng = random.Random(3)
    docs += journal_docs()[-3000:] + [odd_doc(rng, n) for n in range(600)]
    docs = [doc for doc in docs if len(doc["@timestamp"]) == 27 and doc["@timestamp"].isascii()]  # linking reads them
    ids = IdAssigner()
    ids.assign(docs)
    docs.insert(5, {"@timestamp": "2017-01-01T00:00:00.000000Z", "message": "no id", "event": {"dataset": "syslog"}})
    got, expected = [], []
    taken = 0
    add = Tail.add

    def counted(self: Tail, docs: Any, ids: Any, outs: Any, python: Any, count: Any) -> None:
        def more(n: int) -> None:
            nonlocal taken
            taken += n

        add(self, docs, ids, outs, python, more)

    for tail, out in ((True, got), (False, expected)):
        session = _session(tmp_path / str(tail), tail)
        for start in range(0, len(docs), 256):
            batch = copy.deepcopy(docs[start : start + 256])
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(Tail, "add", counted)
                _, read, finish = session._batches._recognised(batch, "s", None)
            session._enrichers[1].enrich(roles_of(read))  # what `Order` does, for one input
            out += finish().encoded[session.plan.sink_name]
    assert got == expected
    assert len(got) >= len(docs) > 9000
    assert taken > len(docs) // 2


@needs_lane
def test_a_replay_in_one_process_gives_with_the_tail_what_it_gives_without(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The one-process replay (`Pipeline`: several inputs merged by time, small inputs,
    ``--workers 0``) hands its batches to the tail too: the same NDJSON and Elasticsearch items,
    the same counts, for the corpus's syslog lines merged with its journal failures (an export)."""
    text = tmp_path / "messages"
    text.write_bytes(corpus_text())
    export = CORPUS / "derived" / "fedora37-no-rtc" / "failures.export"
    runs = []
    taken: list[int] = []
    add = Tail.add
    monkeypatch.setattr(Tail, "add", lambda self, docs, ids, outs, python, count:
                        add(self, docs, ids, outs, python, lambda n: (taken.append(n), count(n))))
    for tail in (True, False):
        if not tail:
            monkeypatch.setattr(pipeline.Tail, "make", classmethod(lambda cls, *args: None))
        out, es = io.BytesIO(), RecordingSink()
        groups = open_inputs([str(text), str(export)], fmt="auto", max_line_bytes=65536)
        summary = Pipeline(groups, ParseContext(timezone="UTC", year=2017), make_parser,
                           default_enrichers(RecogniseConfig()), [NdjsonSink(out), es]).run()
        runs.append((out.getvalue(), es.items, summary.counters))
    (got, got_es, got_counts), (expected, expected_es, expected_counts) = runs
    assert got == expected and got_es == expected_es
    assert got_counts == expected_counts
    assert got_counts["documents"] > 6000 and got_counts["unparsed"] > 0
    assert sum(taken) > got_counts["documents"] // 2, "the tail took most documents"
    assert len(groups) == 2


class RecordingSink:
    """A sink that keeps the bulk items it is given (from the tail) or makes (from documents)."""

    name = "es"

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.counters: dict[str, int] = {}
        self._encode = Encoder("default")

    def open(self, ack: Any) -> None:
        self._ack = ack

    def encoder(self) -> Encode:
        return self._encode

    def write(self, batch: Any) -> None:
        self.items += items_of(batch, self.name, self._encode)
        self._ack(batch.seq)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


@needs_lane
def test_the_tail_runs_no_python_code_of_a_document() -> None:
    """A value's __bool__ or __eq__ could change the list the C code is reading: such a value is
    left to Python without being called."""
    called: list[str] = []

    class Sneaky:
        def __bool__(self) -> bool:
            called.append("bool")
            return True

        def __eq__(self, other: object) -> bool:
            called.append("eq")
            return False

        __hash__ = object.__hash__

    tail = Tail.make(Recognise(), {"es": Encoder("default")})
    assert tail is not None
    plain = odd_doc(random.Random(1), 0)
    for field in ("host", "container", "process", "message", "journald"):
        doc = {**copy.deepcopy(plain), field: Sneaky()}
        assert tail._plan.docs_scan([doc], 0, tail._routes, tail._message_ids, False) == 1
    assert called == []
