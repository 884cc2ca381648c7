"""The recognition ingest pipeline is generated from the signature files and must not go stale."""

from __future__ import annotations

import json
import re
from pathlib import Path

from shipper.recognise.rules import load_rules
from shipper.setup.recognition import FILES, MATCHED, build_pipeline, render

ROOT = Path(__file__).resolve().parents[2]


def _committed() -> dict:
    return json.loads((ROOT / FILES[0]).read_text())


def test_the_committed_pipeline_is_what_the_signature_files_generate() -> None:
    committed = _committed()
    fresh = build_pipeline(load_rules(), committed["version"])
    assert fresh == committed, "pipelines/logs-shipper-recognition.json is stale: run python -m shipper.setup.recognition"
    assert (ROOT / FILES[1]).read_text() == (ROOT / FILES[0]).read_text()


def test_a_change_of_the_signatures_bumps_the_version() -> None:
    committed = _committed()
    changed = {**committed, "processors": committed["processors"][1:]}
    assert render(load_rules(), changed)["version"] == committed["version"] + 1
    assert render(load_rules(), committed) == committed


def test_every_pattern_without_a_context_becomes_a_grok_in_file_order() -> None:
    rules = load_rules()
    body = _committed()
    tags = [p["grok"]["tag"] for p in body["processors"] if "grok" in p and not p["grok"]["tag"].endswith("#journal")]
    # A recovery (a start after a failure) is kept only after its unit's failure: not in the pipeline.
    kept = [s for s in rules.signatures if s.role != "recovery"]
    expected = [f"{s.id}#{i}" for s in kept for i, p in enumerate(s.patterns) if p.context is None]
    assert tags == expected
    left_out = [s.id for s in rules.signatures if s.role == "recovery"]
    left_out += [f"{s.id}#{i}" for s in kept for i, p in enumerate(s.patterns) if p.context is not None]
    assert [x.split(" ")[0] for x in body["_meta"]["patterns_left_out"]] == left_out


def test_grok_patterns_are_the_python_regexes_with_prefixed_groups() -> None:
    rules = load_rules()
    by_tag = {p["grok"]["tag"]: p["grok"] for p in _committed()["processors"] if "grok" in p}
    for sig in rules.signatures:
        for i, pat in enumerate(sig.patterns):
            if pat.context is not None or sig.role == "recovery":
                continue
            (grok,) = by_tag[f"{sig.id}#{i}"]["patterns"]
            assert "(?P<" not in grok
            back = re.sub(r"\(\?<(rc_)?(\w+)>", r"(?P<\2>", grok)
            assert back == f"(?P<{MATCHED}>{pat.regex})"
            assert re.compile(back).groupindex.keys() >= pat.compiled.groupindex.keys()


def test_the_signature_is_set_last_so_the_guards_before_it_hold() -> None:
    sets = [p["set"] for p in _committed()["processors"] if "set" in p and "#" in p["set"].get("tag", "")]
    by_step: dict[str, list[str]] = {}
    for s in sets:
        step, field = s["tag"].rsplit(":", 1)
        by_step.setdefault(step, []).append(field)
    assert by_step and all(fields[-1] == "signature" for fields in by_step.values())
