"""Running real inputs through the real parsers and the recognition enrichers, as `replay` does.

* `parse_paths(paths)`: files (any format the sniffer knows) -> documents with ids, merged by time.
* `parse_lines(lines, fmt)`: verbatim lines (a sample written into a test) -> documents with ids.
* `parse_journal(fields)`: journal entries (field dicts) -> documents, through the journal parser.
* `enrich_all(docs)`: the default enrichers over the documents in pipeline-sized batches, then flush.
* `load_annotations()`: the annotated samples of ``tests/samples/signatures/*.yaml``.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import yaml

from shipper.config.loader import Duration
from shipper.config.model import RecogniseConfig
from shipper.enrich.base import Enricher
from shipper.enrich.chain import default_enrichers
from shipper.event import Doc
from shipper.ids import IdAssigner
from shipper.parse.base import ParseContext
from shipper.parse.dispatch import make_parser
from shipper.pipeline import merged, read_group
from shipper.sources.base import Format, Origin, RawChunk
from shipper.sources.open import open_inputs

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
CORPUS = DATA / "corpus"
SEED = DATA / "seed"
ANNOTATIONS = ROOT / "samples" / "signatures"


class _NoProgress:
    def update(self, n: int) -> None:
        pass


def context(timezone: str = "UTC", year: int | None = None) -> ParseContext:
    return ParseContext(timezone=timezone, year=year)


def parse_paths(paths: Sequence[Path | str], *, timezone: str = "UTC", year: int | None = None, fmt: str = "auto") -> list[Doc]:
    """Documents of ``paths`` as the replay pipeline reads them (sniffed, parsed, ids, merged)."""
    groups = open_inputs([str(p) for p in paths], fmt=fmt)
    ctx = context(timezone, year)
    counters: Counter[str] = Counter()
    streams = [read_group(g, ctx, make_parser, counters, _NoProgress()) for g in groups]
    return [doc for batch in merged(streams) for doc in batch]


def parse_lines(lines: Iterable[str], fmt: Format = "syslog", *, timezone: str = "UTC", year: int = 2017) -> list[Doc]:
    """Documents of verbatim text lines, read as one stream of format ``fmt``."""
    origin = Origin(source_id="sample", format=fmt, path="sample.log")
    return _parse(origin, RawChunk(origin, "text", list(lines)), timezone, year)


def parse_journal(entries: Iterable[dict[str, str]], *, timezone: str = "UTC") -> list[Doc]:
    """Documents of journal entries (``FIELD: value`` dicts, as the journal sources yield them)."""
    origin = Origin(source_id="journal-sample", format="journal")
    return _parse(origin, RawChunk(origin, "fields", list(entries)), timezone, None)


def _parse(origin: Origin, chunk: RawChunk, timezone: str, year: int | None) -> list[Doc]:
    parser = make_parser(origin, context(timezone, year))
    docs = parser.parse(chunk) + parser.flush()
    IdAssigner().assign(docs)
    return docs


def enrich_all(
    docs: list[Doc], *, window: float = 600, batch: int = 2000, enrichers: Sequence[Enricher] | None = None
) -> list[Doc]:
    """The documents after the enrichers, batch by batch, as `Pipeline` runs them."""
    chain = list(enrichers) if enrichers is not None else default_enrichers(RecogniseConfig(incident_window=Duration(window)))
    out: list[Doc] = []
    for start in range(0, len(docs), batch):
        part = docs[start : start + batch]
        for enricher in chain:
            part = enricher.enrich(part)
        out += part
    for i, enricher in enumerate(chain):
        tail = enricher.flush()
        for later in chain[i + 1 :]:
            tail = later.enrich(tail) if tail else tail
        out += tail
    return out


def recognised(docs: Iterable[Doc]) -> list[Doc]:
    return [d for d in docs if "rootcause" in d and "signature" in d["rootcause"]]


@dataclass
class Sample:
    """One annotated sample: a corpus line (file + line number) or a verbatim line."""

    family: str
    signature: str | None  # None: must NOT be recognised (a near miss)
    file: str | None = None  # relative to tests/data/
    line: int | None = None  # 1-based line in `file`
    message: str | None = None  # or: the exact message of an entry of `file` (journal exports)
    text: str | None = None  # a verbatim line (when there is no file)
    format: Format = "syslog"
    fields: dict[str, Any] = field(default_factory=dict)  # expected dotted field -> value
    note: str = ""
    where: str = ""  # annotation file and index, for failure messages

    def source_line(self) -> str:
        if self.text is not None:
            return self.text
        assert self.file is not None and self.line is not None
        return (DATA / self.file).read_text(encoding="utf-8").split("\n")[self.line - 1]


def load_annotations() -> list[Sample]:
    out = []
    for path in sorted(ANNOTATIONS.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for i, item in enumerate(data["samples"]):
            out.append(Sample(family=data["family"], where=f"{path.name}[{i}]", **item))
    return out


def covering(docs: Iterable[Doc], raw_line: str, *, only_recognised: bool = True) -> list[Doc]:
    """The recognised documents that stand for ``raw_line`` of their input: the line holds the
    document's (first) message line, e.g. a syslog line holds its message after the header, a
    console line its text after a ``docker compose`` prefix, a record line its derived document.
    For a JSON-lines journal export the line's decoded ``MESSAGE`` is compared instead."""
    if raw_line.startswith("{") and '"MESSAGE"' in raw_line:
        raw_line = str(json.loads(raw_line).get("MESSAGE", ""))
    out = []
    for doc in recognised(docs) if only_recognised else docs:
        first = doc.get("message", "").split("\n", 1)[0].strip()
        if len(first) >= 8 and first in raw_line:
            out.append(doc)
    return out
