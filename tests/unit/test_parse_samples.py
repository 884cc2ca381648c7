"""Every syslog / Elasticsearch text file of the corpus and the seed, through the real parsers.

Each file: every line is accounted for (the first line of exactly one document, or folded into
the record before it), the counts match the annotations in ``tests/samples/parse/*.yaml``, and
the annotated lines give exactly the annotated fields. Parsing in 3-line chunks gives the same
documents as in one chunk (records held open across chunks).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from shipper.event import TAG_UNPARSED, Doc, get_path
from shipper.parse.eslog import strip_prefix
from tests.helpers.parse import DATA, Sample, continuations, load_samples, parse_text, read_lines

SAMPLES = load_samples()
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z\Z")
# Text files that are not syslog or Elasticsearch output: journal dumps (JSON, export, verbose;
# the journal-field tests read them), Filebeat output (*.json), binary journals, licences, tables.
NOT_TEXT_LOGS = re.compile(
    r"\.(zst|json|export|csv)$|/LICENSE$|/SOURCES\.md$|/README$|journal-[12]\.txt$|/sample\.txt$|failures\.verbose\.txt$"
)


def _log_files() -> list[str]:
    files = [p for d in ("corpus", "seed") for p in (DATA / d).rglob("*") if p.is_file()]
    return sorted(str(p.relative_to(DATA)) for p in files if not NOT_TEXT_LOGS.search(str(p)))


def _docs(sample: Sample, chunk: int = 2000) -> list[Doc]:
    return parse_text(
        sample.format, read_lines(sample.path), timezone=sample.timezone, year=sample.year, mtime=sample.mtime, chunk=chunk
    )


def _body(sample: Sample) -> object:
    return (lambda line: strip_prefix(line)[1]) if sample.format == "elasticsearch" else None


def test_every_syslog_and_elasticsearch_text_file_is_annotated() -> None:
    annotated = {s.file: s for s in SAMPLES}
    files = _log_files()
    assert len(files) > 70
    assert sorted(annotated) == files
    for name, sample in annotated.items():
        n = len(read_lines(sample.path).items)
        wanted = n if name.startswith("seed/") else min(3, n)
        assert len(sample.lines) >= wanted, f"{name}: annotate at least {wanted} lines"


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.file for s in SAMPLES])
def test_sample(sample: Sample) -> None:
    lines = read_lines(sample.path)
    docs = _docs(sample)
    assert _docs(sample, chunk=3) == docs

    folded = continuations(docs, lines, _body(sample))
    assert len(docs) + len(folded) == len(lines.items)
    assert (len(docs), len(folded)) == (sample.documents, sample.folded)

    starts = {d["log"]["offset"]: d for d in docs}
    for number, expected in sample.lines.items():
        offset = lines.offsets[number - 1]
        if "folded_into" in expected:
            assert offset not in starts, f"line {number} should continue a record"
            owner = max(o for o in starts if o < offset)
            assert owner == lines.offsets[expected["folded_into"] - 1], f"line {number} folded elsewhere"
            continue
        doc = starts[offset]
        if "tags" not in expected:
            assert "tags" not in doc, f"{sample.file}:{number} tags"
        for key, value in expected.items():
            got = doc.get(key) if key in ("@timestamp", "message", "tags") else get_path(doc, key)
            assert got == value, f"{sample.file}:{number} {key}"
        assert doc["log"].get("file", {}).get("path") == "/var/log/test.log"


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.file for s in SAMPLES])
def test_documents_keep_the_field_contract(sample: Sample) -> None:
    dataset = {"syslog": "syslog", "elasticsearch": "elasticsearch.server"}[sample.format]
    for doc in _docs(sample):
        assert STAMP.match(doc["@timestamp"])
        assert isinstance(doc["message"], str)
        assert doc["event"] == {"dataset": dataset, "kind": "event"}  # no event.id: the pipeline sets it
        _assert_no_empty_values(doc)
        if TAG_UNPARSED in doc.get("tags", ()):
            assert "host" not in doc and "process" not in doc


def _assert_no_empty_values(value: object, path: str = "") -> None:
    if isinstance(value, dict):
        assert value, f"empty object at {path}"
        for key, item in value.items():
            assert item is not None, f"null at {path}.{key}"
            if key != "message":
                assert item != "", f"empty string at {path}.{key}"
            _assert_no_empty_values(item, f"{path}.{key}")


def test_fail2ban_times_match_fail2ban_annotations() -> None:
    """fail2ban's samples say, in ``# failJSON: {"time": ...}`` comments, the local time (CEST; its
    tests run with the clock at 2005-08-14) that the next log line carries: an independent oracle
    for the year inference and the zone conversion."""
    berlin = ZoneInfo("Europe/Berlin")
    checked = 0
    for path in sorted((DATA / "corpus/real/fail2ban").iterdir()):
        lines = read_lines(path)
        docs = {d["log"]["offset"]: d for d in parse_text("syslog", lines, timezone="Europe/Berlin", mtime=1124013600)}
        expected: dict[str, object] | None = None
        for i, line in enumerate(lines.items):
            if line.startswith("# failJSON:"):
                expected = json.loads(line.split(":", 1)[1])
                continue
            if not line.strip() or line.startswith("#") or expected is None:
                continue
            time, expected = expected.get("time"), None
            if time is None:
                continue
            doc = docs[lines.offsets[i]]
            assert TAG_UNPARSED not in doc.get("tags", ()), f"{path.name}:{i + 1}"
            local = datetime.fromisoformat(doc["@timestamp"].replace("Z", "+00:00")).astimezone(berlin)
            assert local.strftime("%Y-%m-%dT%H:%M:%S") == time, f"{path.name}:{i + 1}: {line}"
            checked += 1
    assert checked == 70
