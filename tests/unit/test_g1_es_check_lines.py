"""A docker capture of Elasticsearch 7.x/8.x may print the numbered check lines before the summary
(``bootstrap check failure [1] of [2]: ...``, ``... [2] of [2]: ...``, ``ERROR: ... did not exit
normally``, ``ERROR: [2] bootstrap checks failed ...``). A check line starts a record of its own
there; the next check line is not part of it: the cause of the incident quotes its own check
only (the real excerpt es7-docker-two-failures-transport-ssl.log)."""

from __future__ import annotations

import io
from pathlib import Path

import orjson

from helpers.samples import CORPUS
from shipper.cli import main
from shipper.env import Env

CAPTURE = CORPUS / "excerpts" / "elasticsearch" / "es7-docker-two-failures-transport-ssl.log"


def test_each_check_line_is_its_own_event_and_the_cause_quotes_one(tmp_path: Path) -> None:
    out = tmp_path / "out.ndjson"
    env = Env(stdin=io.BytesIO(), stdout=io.StringIO(), stderr=io.StringIO(), environ={"TZ": "UTC"})
    assert main(["replay", "--quiet", "--output", "ndjson", "-o", str(out), str(CAPTURE)], env) == 0
    docs = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    lines = CAPTURE.read_text().splitlines()
    assert [d["message"] for d in docs] == lines
    assert [d["rootcause"]["signature"] for d in docs] == [
        "elasticsearch.bootstrap.discovery", "elasticsearch.bootstrap.other",
        "elasticsearch.did_not_exit_normally", "elasticsearch.bootstrap_checks_failed"]
    assert len({d["rootcause"]["incident"] for d in docs}) == 1
    (failure,) = [d for d in docs if d["rootcause"]["role"] == "failure"]
    assert failure["rootcause"]["cause"]["message"] == lines[0]
