"""What the recognition ingest pipeline should give a document: what the Python recogniser gives it.

* `SAMPLES`: corpus files to compare on: syslog files of each family, and journal entries in each
  shape shipper reads (export, JSON, verbose text, .journal files), with system units (``UNIT=``)
  and user units (``USER_UNIT=``).
* `documents()`: their documents as shipper parses them, but for multi-line records (Python
  recognises their lines one by one, the pipeline judges the whole message).
* `expected(doc)`: the rootcause fields the pipeline sets, as the recogniser alone gives them to
  ``doc`` judged by itself (the pipeline sees one document at a time: no context from the lines
  before, no incidents).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Iterator

from shipper.enrich.recognise import Recognise
from shipper.event import Doc

from .samples import CORPUS, SEED, parse_paths

PIPELINE_FIELDS = ("signature", "role", "title", "hint", "remediation", "docs", "unit")  # all that Recognise sets
SAMPLES: list[Path] = [
    *sorted(p for p in (CORPUS / "excerpts").rglob("*") if p.is_file()),
    *sorted(SEED.glob("*.log")),
    *sorted((CORPUS / "derived" / "fedora37-no-rtc").glob("failures.*")),
    *sorted((CORPUS / "real" / "systemd").glob("*.txt")),
    *sorted((CORPUS / "real" / "systemd" / "no-rtc").glob("user-1000*.journal*.zst")),
]


def documents() -> Iterator[tuple[Path, Doc]]:
    for path in SAMPLES:
        for doc in parse_paths([path], year=2017):
            if "\n" not in doc.get("message", ""):
                yield path, doc


def expected(doc: Doc) -> dict[str, Any]:
    (out, *_) = Recognise().enrich([copy.deepcopy(doc)])
    return {k: v for k, v in out.get("rootcause", {}).items() if k in PIPELINE_FIELDS}
