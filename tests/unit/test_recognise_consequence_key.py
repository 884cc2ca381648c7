"""`is_consequence` special-cased the id ``systemd.dependency_failed`` in the linking code. Being a
consequence of another unit's failure is now a key of the signature (``consequence: true``),
validated as strictly as the other keys, and linking reads it: a signature of a user's own file
with the key links as a dependency failure does."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipper.enrich.incidents import Incidents, is_consequence
from shipper.errors import ConfigError
from shipper.event import Doc
from shipper.recognise.rules import load_files, load_rules

FAILURE = """\
family: demo
description: a demo family
gate: ["boom", "gave up"]
signatures:
  - id: demo.boom
    role: failure
    recognises: "boom.service: boom"
    title: "boom"
    hint: "it went boom"
    remediation: "stop it"
    docs: [man:boom(1)]
    prefilter: ["boom"]
    patterns:
      - '(?P<unit>boom\\.service): boom'
  - id: demo.gave_up
    role: failure
    CONSEQUENCE
    recognises: "gave up on NAME"
    title: "gave up"
    hint: "another unit failed first: fix that one"
    remediation: "look at the unit that failed first"
    docs: [man:boom(1)]
    prefilter: ["gave up"]
    patterns:
      - 'gave up on (?P<unit>\\w+\\.service)'
"""


def _load(tmp_path: Path, line: str, *, role: str = "failure") -> object:
    path = tmp_path / "demo.yaml"
    text = FAILURE.replace("CONSEQUENCE", line).replace("role: failure\n    " + line, f"role: {role}\n    {line}")
    path.write_text(text, encoding="utf-8")
    return load_files([path])


def _error(tmp_path: Path, line: str, *, role: str = "failure") -> str:
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, line, role=role)
    message = str(err.value)
    assert f"{tmp_path / 'demo.yaml'}:17:" in message, message
    return message


def test_the_key_is_validated_strictly(tmp_path: Path) -> None:
    message = _error(tmp_path, "consequence: yes")  # YAML 1.2: text, not a boolean
    assert "signatures[1].consequence: expected true or false, not 'yes'" in message
    assert "expected true or false, not 1" in _error(tmp_path, "consequence: 1")
    message = _error(tmp_path, "consequence: true", role="cause")
    assert "only a failure can be a consequence of another unit's failure, not a cause" in message
    assert "unknown key" in _error(tmp_path, "consequences: true")  # a misspelt key is no key
    rules = _load(tmp_path, "consequence: false")
    assert not rules.consequences  # type: ignore[attr-defined]


def test_the_shipped_dependency_failure_is_the_one_consequence() -> None:
    rules = load_rules()
    assert rules.consequences == {"systemd.dependency_failed"}
    assert is_consequence({"signature": "systemd.dependency_failed"})
    assert not is_consequence({"signature": "systemd.unit_failed"})


def _doc(second: int, message: str, unit: str, signature: str) -> Doc:
    return {"@timestamp": f"2017-08-30T14:00:0{second}.000000Z", "message": message, "event": {"id": f"e{second}"},
            "host": {"name": "gorp"},
            "rootcause": {"signature": signature, "role": "failure", "unit": unit, "hint": "own hint"}}


def test_linking_reads_the_key(tmp_path: Path) -> None:
    rules = _load(tmp_path, "consequence: true")
    docs = [_doc(0, "boom.service: boom", "boom.service", "demo.boom"),
            _doc(1, "gave up on app.service", "app.service", "demo.gave_up")]
    docs[1]["rootcause"]["dependency"] = "boom.service"
    Incidents(600.0, rules).enrich(docs)  # type: ignore[arg-type]
    first, then = (d["rootcause"] for d in docs)
    assert then["incident"] == first["incident"]  # a consequence joins its dependency's incident
    assert then["hint"] == "own hint" and then["unit"] == "app.service"
    assert is_consequence(then, rules) and not is_consequence(first, rules)  # type: ignore[arg-type]
    plain = _load(tmp_path, "consequence: false")
    docs = [_doc(0, "boom.service: boom", "boom.service", "demo.boom"),
            _doc(1, "gave up on app.service", "app.service", "demo.gave_up")]
    docs[1]["rootcause"]["dependency"] = "boom.service"
    Incidents(600.0, plain).enrich(docs)  # type: ignore[arg-type]
    assert docs[1]["rootcause"]["incident"] != docs[0]["rootcause"]["incident"]
    assert "no recognised error from app.service" in docs[1]["rootcause"]["hint"]
