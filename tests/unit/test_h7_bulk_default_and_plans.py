"""Issue 7's speed work: bulk requests of 5,000 documents by default (fewer when only
``max_held_events`` is set lower, which stays a valid config), a replay worker's express plans
made once, and the main process's objects frozen while its workers, forked from it, share them."""

from __future__ import annotations

import gc
import threading
from pathlib import Path

import pytest

from shipper.config.elasticsearch import ElasticsearchOutput
from shipper.config.model import load_config
from shipper.enrich.recognise import Recognise
from shipper.ids import IdAssigner
from shipper.parallel.express import NATIVE, Express, JournalLane, Plans, Tail
from shipper.parallel.pool import Workers
from shipper.parallel.replay import _direct
from shipper.parallel.work import Setup
from shipper.parse.base import ParseContext
from shipper.parse.dispatch import make_parser
from shipper.pipeline import Window
from shipper.sinks.bulk import Encoder
from shipper.sinks.elasticsearch import ElasticsearchSink
from shipper.sinks.ndjson import encode_lines
from shipper.sources.base import Origin
from tests.helpers.es import make_env

URL = "http://127.0.0.1:9"


def test_requests_hold_5000_documents_by_default_and_each_worker_one_request(tmp_path: Path) -> None:
    cfg = ElasticsearchOutput(hosts=[URL])
    assert cfg.bulk_max_docs is None and cfg.bulk_docs == 5000 and cfg.max_held_events == 6000
    sink = ElasticsearchSink(cfg, tmp_path, make_env())
    assert sink._chunker.max_docs == 5000
    shares = {workers: _direct([sink], workers) for workers in (1, 2, 8)}
    assert {w: (d.cfg.max_held_events, d.cfg.bulk_docs) for w, d in shares.items() if d is not None} == {
        1: (6000, 5000), 2: (5000, 5000), 8: (5000, 5000)}


def test_a_lower_max_held_events_alone_stays_valid_and_bounds_the_requests(tmp_path: Path) -> None:
    """A config written when the default was 2,000 (``max_held_events: 2000``, no bulk_max_docs)
    still loads: its requests hold 2,000 documents."""
    path = tmp_path / "shipper.yml"
    path.write_text(f"state_dir: {tmp_path / 'state'}\noutput:\n  elasticsearch:\n    hosts: [{URL}]\n"
                    "    max_held_events: 2000\n")
    cfg = load_config(path).output.elasticsearch
    assert cfg is not None and cfg.bulk_docs == 2000
    assert ElasticsearchOutput(hosts=[URL], bulk_max_docs=300).bulk_docs == 300


def test_a_bulk_max_docs_set_above_max_held_events_is_still_refused() -> None:
    with pytest.raises(ValueError, match="max_held_events must be at least bulk_max_docs"):
        ElasticsearchOutput(hosts=[URL], bulk_max_docs=7000)
    with pytest.raises(ValueError, match="bulk_max_docs must be at least 1"):
        ElasticsearchOutput(hosts=[URL], bulk_max_docs=0)


@pytest.mark.skipif(not NATIVE, reason="the C extension is not built")
def test_a_workers_lanes_share_the_plans_made_once() -> None:
    recognise = Recognise()
    plans = Plans(recognise)
    encoders = {"es": Encoder("default")}
    ctx = ParseContext(timezone="UTC", year=2024)
    messages, maillog = (make_parser(Origin(name, "syslog", f"/var/log/{name}"), ctx) for name in ("messages", "maillog"))
    first = Express.make(messages, IdAssigner(), recognise, encoders, 256, plans)
    again = Express.make(make_parser(Origin("messages", "syslog", "/var/log/messages"), ctx), IdAssigner(), recognise,
                         encoders, 256, plans)
    other = Express.make(maillog, IdAssigner(), recognise, encoders, 256, plans)
    assert first is not None and again is not None and other is not None
    assert first._plan is again._plan and other._plan is not first._plan  # (the path is in the plan's items)
    tail = Tail.make(recognise, encoders, plans)
    assert tail is not None and tail._plan is plans.get((), b"") and tail._plan is not first._plan
    journal = make_parser(Origin("journal", "journal"), ctx)
    lane = JournalLane.make(journal, IdAssigner(), recognise, encoders, 256, plans=plans)
    assert lane is not None and lane._plan is tail._plan


def test_the_main_process_freezes_its_objects_while_forked_workers_share_them() -> None:
    if threading.active_count() != 1:
        pytest.skip("workers are spawned, not forked, when another thread runs")
    assert gc.get_freeze_count() == 0
    workers = Workers(2, Setup(ParseContext(timezone="UTC"), Window(), {"ndjson": encode_lines}))
    try:
        assert gc.get_freeze_count() > 10_000  # the modules' objects, at least
    finally:
        workers.close()
    assert gc.get_freeze_count() == 0
