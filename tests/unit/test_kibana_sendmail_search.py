"""The saved search "sendmail SYSERR" finds sendmail by every process name the signatures know it
by (Debian and Ubuntu log it as ``sm-mta``): checked on the SYSERR lines of the real corpus."""

from __future__ import annotations

import json
import re
from pathlib import Path

from shipper.enrich.sendmail import sendmail_idents
from shipper.recognise.rules import load_rules
from tests.helpers.parse import parse_text, read_lines

ROOT = Path(__file__).resolve().parents[2]
SENDMAIL_EXCERPTS = ROOT / "tests" / "data" / "corpus" / "excerpts" / "sendmail"
TYPO = "sm-mat"  # sendmail-syserr-no-timestamp.txt line 2: a typo in the source post (corpus SOURCES.md)


def _query() -> str:
    for line in (ROOT / "kibana" / "shipper.ndjson").read_text(encoding="utf-8").splitlines():
        obj = json.loads(line)
        if obj["id"] == "shipper-sendmail-syserr":
            return str(json.loads(obj["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])["query"]["query"])
    raise AssertionError("no saved search shipper-sendmail-syserr")


def _process_names(query: str) -> set[str]:
    """The values of ``process.name: ("a" or "b")`` (or ``process.name: "a"``) in a KQL query."""
    m = re.search(r'process\.name: (\((?:"[^"]+"(?: or )?)+\)|"[^"]+")', query)
    assert m, query
    return set(re.findall(r'"([^"]+)"', m.group(1)))


def test_the_search_selects_every_sendmail_name_of_the_signatures() -> None:
    query = _query()
    assert _process_names(query) == set(sendmail_idents(load_rules())) >= {"sendmail", "sm-mta"}
    assert query.endswith(' and message: "SYSERR"')


def test_the_search_selects_every_syserr_line_of_the_corpus() -> None:
    names = _process_names(_query())
    found: dict[str, int] = {}
    for path in sorted(SENDMAIL_EXCERPTS.iterdir()):
        for doc in parse_text("syslog", read_lines(path), year=2017):
            if "SYSERR" in doc.get("message", ""):
                name = str(doc.get("process", {}).get("name"))
                found[name] = found.get(name, 0) + 1
    assert found.pop(TYPO) == 1
    assert found == {"sendmail": 36, "sm-mta": 13}
    assert set(found) <= names
