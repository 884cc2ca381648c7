"""Annotated real samples (tests/samples/signatures/*.yaml), fail2ban-style: each line, read as
part of its whole file through the real parser and the default enrichers, must get the expected
signature and fields; near misses must get none. Every signature must have a sample."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest

from helpers.samples import DATA, Sample, covering, enrich_all, load_annotations, parse_lines, parse_paths
from shipper.event import Doc, get_path
from shipper.recognise.rules import load_signatures

SAMPLES = load_annotations()


@lru_cache(maxsize=None)
def _file_docs(rel: str) -> tuple[Doc, ...]:
    return tuple(enrich_all(parse_paths([DATA / rel], timezone="UTC", year=2017)))


def _candidates(sample: Sample) -> list[Doc]:
    if sample.text is not None:
        docs = enrich_all(parse_lines([sample.text], sample.format))
        return [d for d in docs if d.get("message")]
    assert sample.file is not None
    docs = list(_file_docs(sample.file))
    if sample.message is not None:
        return [d for d in docs if d.get("message") == sample.message]
    return covering(docs, sample.source_line(), only_recognised=False)


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.where for s in SAMPLES])
def test_sample(sample: Sample) -> None:
    docs = _candidates(sample)
    assert docs, f"{sample.where}: no document stands for this line: {sample.source_line() if sample.message is None else sample.message!r}"
    if sample.signature is None:
        hits = [get_path(d, "rootcause.signature") for d in docs if get_path(d, "rootcause.signature")]
        assert not hits, f"{sample.where}: a near miss was recognised as {hits}"
        matching = docs
    else:
        matching = [d for d in docs if get_path(d, "rootcause.signature") == sample.signature]
        got = sorted({str(get_path(d, "rootcause.signature")) for d in docs})
        assert matching, f"{sample.where}: expected {sample.signature}, got {got}"
    for doc in matching:
        wrong = {f: get_path(doc, f) for f, v in sample.fields.items() if get_path(doc, f) != v}
        if not wrong:
            break
    else:
        pytest.fail(f"{sample.where}: fields differ: expected {sample.fields}, got {wrong}")
    for doc in matching if sample.signature else ():
        rc = doc["rootcause"]
        assert rc["hint"] and rc["remediation"] and rc["docs"] and rc["title"], sample.where
        assert "{" not in rc["hint"] + rc["title"], f"{sample.where}: unfilled template: {rc['hint']}"


def test_every_signature_has_a_sample() -> None:
    ids = {s.id for s in load_signatures()}
    sampled = {s.signature for s in SAMPLES if s.signature}
    assert ids - sampled == set(), f"signatures without an annotated sample: {sorted(ids - sampled)}"
    assert sampled - ids == set(), f"samples name unknown signatures: {sorted(sampled - ids)}"


def test_every_signature_has_a_real_corpus_sample_where_the_corpus_has_one() -> None:
    """Verbatim samples stand in only for the forms no captured log in the corpus shows."""
    from_files = {s.signature for s in SAMPLES if s.file and s.signature}
    verbatim_only = {s.signature for s in SAMPLES if s.signature} - from_files
    assert verbatim_only == {
        "systemd.pid_file_missing",
        "elasticsearch.bootstrap.max_threads",
        "elasticsearch.bootstrap.heap_size",
        "elasticsearch.bootstrap.system_call_filter",
    }


def test_annotated_files_exist() -> None:
    for sample in SAMPLES:
        if sample.file:
            assert (DATA / sample.file).is_file(), sample.where
            if sample.line is not None:
                assert Path(DATA / sample.file).read_text(encoding="utf-8").split("\n")[sample.line - 1].strip(), sample.where
