"""A summary printed after the failure it sums up (Elasticsearch 7 writes ``[2] bootstrap checks
failed`` below the checks and ``did not exit normally``) joins the incident of those checks; a
summary that opens the next run's output, later, still starts that run's incident."""

from __future__ import annotations

import json
from pathlib import Path

from helpers.cli import shipper_out
from helpers.samples import CORPUS, enrich_all, parse_lines
from shipper.event import get_path

SSL_CHECK = ("bootstrap check failure [1] of [1]: Transport SSL must be enabled if security is enabled. Please set "
             "[xpack.security.transport.ssl.enabled] to [true] or disable security by setting [xpack.security.enabled] to [false]")
DID_NOT_EXIT = "ERROR: Elasticsearch did not exit normally - check the logs at /var/log/elasticsearch/es.log"
SUMMARY = ("ERROR: [1] bootstrap checks failed. You must address the points described in the following [1] lines "
           "before starting Elasticsearch.")


def test_the_corpus_log_with_the_summary_last_is_one_incident(tmp_path: Path) -> None:
    log = CORPUS / "excerpts" / "elasticsearch" / "es7-docker-two-failures-transport-ssl.log"
    store = str(tmp_path / "s.db")
    shipper_out(tmp_path, "replay", "--quiet", "--store", store, "--timezone", "UTC", str(log))
    (incident,) = json.loads(shipper_out(tmp_path, "causes", "--store", store, "--format", "json"))["incidents"]
    assert incident["events"] == 4
    assert incident["summary"] == "refused to start: 2 bootstrap check(s) failed"
    assert incident["causes"][0]["signature"] == "elasticsearch.bootstrap.discovery"  # (the summary ranks below)
    assert "no failure seen" not in incident["headline"]


def test_a_late_summary_joins_only_what_it_came_with() -> None:
    runs = [("18:25:13", (SSL_CHECK, DID_NOT_EXIT)), ("18:25:14", (SUMMARY,)),  # run 1, summary last
            ("18:25:30", (SUMMARY, SSL_CHECK, DID_NOT_EXIT))]  # run 2, 16 s later, summary first
    lines = [f"Jan 27 {at} centos8 systemd-entrypoint[11169]: {text}" for at, texts in runs for text in texts]
    docs = [d for d in enrich_all(parse_lines(lines)) if get_path(d, "rootcause.incident")]
    incidents = [get_path(d, "rootcause.incident") for d in docs]
    assert incidents[:3] == [incidents[0]] * 3, [d["message"] for d in docs]
    assert incidents[3:] == [incidents[3]] * 3 and incidents[3] != incidents[0]
