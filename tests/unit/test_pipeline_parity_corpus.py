"""The recognition pipeline gives a document what shipper's own recognition gives it, for every real
line of the corpus (tests/data/corpus: ../shared/corpus), whoever sent it to Elasticsearch.

shipper's recognition (`Recognise`, one document read by itself: the pipeline sees one at a time)
is the reference: its ``rootcause`` (signature, role, title, hint, remediation, docs, unit) and the
typed fields of the signature (``process.exit_code``, ``systemd.result``, ``container.name``, ...),
which the Kibana views and `shipper relink` read. The pipeline runs in the stand-in ingest node
(tests/helpers/ingest.py; tests/integration/test_es_cluster.py runs it in Elasticsearch).

* Lines as shipper parses them (syslog, journalctl text, Elasticsearch logs, journal entries).
* Journal entries as Filebeat's journald input sends them (``message_id``, ``syslog.identifier``,
  ``systemd.unit`` = the sender's unit, ``journald.custom.user_unit``), in its old form too, and
  with the journal's own names (Vector): the pipeline reads them as shipper reads the entry.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import pytest

from helpers import ingest, other_shippers
from helpers.es_recognition import PIPELINE_FIELDS
from helpers.samples import CORPUS, parse_journal, parse_paths
from shipper.enrich.recognise import Recognise
from shipper.event import Doc, get_path
from shipper.recognise.rules import load_rules
from shipper.setup.recognition import FILES

ROOT = Path(__file__).resolve().parents[2]
BODY = json.loads((ROOT / FILES[0]).read_text())
FILES_READ = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix not in (".md", ".csv") and p.name != "LICENSE")
JOURNALS = [p for p in FILES_READ if ".journal" in p.name or p.suffix in (".export", ".json") or ".verbose" in p.name]
RECOGNISE = Recognise()


def _python(doc: Doc) -> Doc:
    """``doc`` as shipper's recognition leaves it, read by itself."""
    RECOGNISE.reset()
    (out, *_) = RECOGNISE.enrich([copy.deepcopy(doc)])
    return out


def _pipeline(doc: Doc) -> Doc:
    out = ingest.run(BODY, doc)
    assert ingest.failure(out) is None and not any(k.startswith("rc") for k in out), out
    return out


def _rootcause(doc: Doc) -> dict[str, Any]:
    return {k: v for k, v in (doc.get("rootcause") or {}).items() if k in PIPELINE_FIELDS}


def _typed(doc: Doc) -> dict[str, Any]:
    """The fields the signature's field rules name, as ``doc`` has them."""
    sig = load_rules().by_id.get(get_path(doc, "rootcause.signature") or "")
    return {rule.field: get_path(doc, rule.field) for rule in sig.fields} if sig else {}


def test_every_line_shipper_recognises_in_the_corpus_the_pipeline_recognises_alike() -> None:
    """Bug: the pipeline set no rootcause.unit, title or remediation, nor a typed field, so the
    Kibana columns (unit, exit status explained, result, bootstrap check) were empty for every
    document another shipper sent."""
    seen: Counter[str] = Counter()
    wrong = []
    for doc in (doc for path in FILES_READ for doc in parse_paths([path], year=2017)):
        if "\n" in doc.get("message", ""):  # a multi-line record: Python reads it line by line
            continue
        want, got = _python(doc), _pipeline(doc)
        if (_rootcause(want), _typed(want)) != (_rootcause(got), _typed(got)):
            wrong.append((doc["message"][:100], _rootcause(want), _typed(want), _rootcause(got), _typed(got)))
        elif "rootcause" in want:
            seen["recognised"] += 1
            seen["with a unit"] += "unit" in want["rootcause"]
            seen["with typed fields"] += any(v is not None for v in _typed(want).values())
    assert not wrong, wrong[:5]
    assert seen["recognised"] >= 350 and seen["with a unit"] >= 330 and seen["with typed fields"] >= 300, seen


SHAPES: dict[str, Callable[[dict[str, Any]], Doc]] = {
    "filebeat": other_shippers.filebeat,
    "filebeat 8.15, UNIT in journald.custom": lambda entry: other_shippers.filebeat(entry, old=True),
    "raw journal fields": other_shippers.raw,
}


@pytest.mark.parametrize("shape", SHAPES)
def test_journal_entries_other_shippers_send_are_recognised_as_shipper_reads_them(shape: str) -> None:
    """Bug: the pipeline read shipper's names only: a Filebeat document's MESSAGE_ID (message_id)
    went unread, its systemd.unit / systemd.user_unit (the service manager's own init.scope) were
    taken for the unit the entry is about, and a user manager's unit (USER_UNIT=, which Filebeat
    puts in journald.custom.user_unit) was never named."""
    seen: Counter[str] = Counter()
    wrong = []
    for path, entry in other_shippers.entries(JOURNALS):
        (doc,) = parse_journal([entry])
        if "\n" in doc.get("message", ""):
            continue
        want, got = _rootcause(_python(doc)), _rootcause(_pipeline(SHAPES[shape](entry)))
        if want != got:
            wrong.append((path.name, doc["message"][:90], want.get("unit"), got.get("unit"), want.get("signature"),
                          got.get("signature")))
        elif want:
            seen["recognised"] += 1
            seen["by MESSAGE_ID"] += bool(entry.get("MESSAGE_ID"))
            seen["a user manager's unit"] += "USER_UNIT" in entry
    assert not wrong, wrong[:5]
    assert seen["recognised"] >= 130 and seen["by MESSAGE_ID"] >= 110 and seen["a user manager's unit"] >= 90, seen
