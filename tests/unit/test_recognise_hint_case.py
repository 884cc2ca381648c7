"""A value the hints put mid-sentence is in lower case whatever the case the log wrote it in:
systemd's "sendmail.service: Main process exited" is "sendmail.service's main process failed", in
the Python hints and in the Elasticsearch recognition pipeline generated from the same files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import ingest
from helpers.samples import enrich_all, parse_journal, parse_lines
from shipper.setup.recognition import FILES

ROOT = Path(__file__).resolve().parents[2]
MESSAGE = "gdm.service: {which} process exited, code=exited, status=1/FAILURE"


def _hint(line: str) -> str:
    (doc,) = [d for d in enrich_all(parse_lines([line])) if d.get("rootcause")]
    assert doc["rootcause"]["signature"] == "systemd.process_exited"
    return str(doc["rootcause"]["hint"])


@pytest.mark.parametrize(("which", "said"), [("Main", "main"), ("main", "main"), ("Control", "control")])
def test_the_python_hint_says_which_process_in_lower_case(which: str, said: str) -> None:
    hint = _hint("Aug 30 14:56:07 gorp systemd[1]: " + MESSAGE.format(which=which))
    assert f"gdm.service's {said} process failed with FAILURE (1)" in hint, hint
    assert "Main process" not in hint and "Control process" not in hint


def test_a_journal_entry_gets_the_same_hint_as_its_text() -> None:
    entry = {"MESSAGE": MESSAGE.format(which="Main"), "SYSLOG_IDENTIFIER": "systemd",
             "_PID": "1", "MESSAGE_ID": "98e322203f7a4ed290d09fe03c09fe15", "UNIT": "gdm.service",
             "EXIT_CODE": "exited", "EXIT_STATUS": "1", "_HOSTNAME": "gorp", "__REALTIME_TIMESTAMP": "1504104967000000"}
    (doc,) = [d for d in enrich_all(parse_journal([entry])) if d.get("rootcause")]
    assert "gdm.service's main process failed" in doc["rootcause"]["hint"]


def test_the_pipeline_hint_says_which_process_in_lower_case() -> None:
    """The whole pipeline, in the stand-in ingest node (tests/helpers/ingest.py)."""
    body = json.loads((ROOT / FILES[0]).read_text())
    for which, said in (("Main", "main"), ("Control", "control")):
        doc = ingest.run(body, {"message": MESSAGE.format(which=which), "process": {"name": "systemd"}})
        assert doc["rootcause"]["signature"] == "systemd.process_exited"
        assert doc["rootcause"]["hint"].startswith(f"gdm.service's {said} process failed"), doc["rootcause"]["hint"]
