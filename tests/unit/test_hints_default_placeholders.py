"""A signature's default (``defaults: {unit: "the unit"}``) is prose. In a command of a hint or a
remediation it was put in as it is, when the log named no unit: `journalctl -b -u the unit`,
`systemctl status the unit`, `coredumpctl list the unit`, commands that break (or name something
else) when an operator pastes them. In a command it is now a placeholder to fill in, the variable's
name in capitals as man pages write one (`journalctl -b -u UNIT`); prose keeps "the unit".

The Elasticsearch pipeline's hints do the same: tests/unit/test_es_recognition_hints.py.
"""

from __future__ import annotations

import shlex

from helpers.samples import parse_journal, parse_lines
from shipper.enrich import hints
from shipper.enrich.recognise import Recognise
from shipper.event import Doc
from shipper.recognise.rules import load_rules


def _commands(text: str) -> list[str]:
    parts = text.split("`")
    return [p for i, p in enumerate(parts) if i % 2 and i < len(parts) - 1]


def _templates() -> list[tuple[str, dict[str, str], str]]:
    out = []
    for sig in load_rules().signatures:
        for source in (sig, *sig.patterns, *sig.variants):
            for label in ("title", "hint", "remediation"):
                text = getattr(source, label, None)
                if text and sig.defaults:
                    out.append((sig.id, sig.defaults, text))
    return out


def test_no_command_of_the_signature_files_holds_a_default_text() -> None:
    """Every template of every signature with defaults, rendered from its defaults alone: each
    command has the words it has with a real value (the placeholder is one word), and no default's
    text is in a command."""
    placeholders = 0
    for sig_id, defaults, template in _templates():
        used = {name for how, name in hints.pieces(template) if how not in (hints.TEXT, hints.PROSE)} & defaults.keys()
        alone = _commands(hints.render(template, {}, defaults))
        real = _commands(hints.render(template, {name: "x.service" for name in used}, defaults))
        for bare, filled in zip(alone, real, strict=True):
            assert len(shlex.split(bare)) == len(shlex.split(filled)), (sig_id, bare)
            assert not any(" " in text and text in bare for text in defaults.values()), (sig_id, bare)
        placeholders += sum(command.count(hints.placeholder(name)) for command in alone for name in used)
    assert placeholders >= 20  # the systemd signatures' remediations name {unit} in commands throughout


def _rootcause(doc: Doc) -> dict[str, str]:
    (out,) = Recognise().enrich([doc])
    rootcause: dict[str, str] = out["rootcause"]
    return rootcause


def test_a_start_failure_without_its_unit_says_which_command_to_complete() -> None:
    (doc,) = parse_lines(["Aug 30 14:56:09 gorp systemd[1]: Failed to start Foo Daemon."])
    rootcause = _rootcause(doc)
    assert rootcause["signature"] == "systemd.start_failed" and "unit" not in rootcause
    assert rootcause["hint"].startswith("the start job of Foo Daemon failed;")
    assert rootcause["remediation"].startswith("`systemctl status UNIT` and `journalctl -b -xe`")
    assert "the unit`" not in rootcause["remediation"]


def test_a_journal_exit_whose_unit_is_no_unit_name_keeps_the_unit_in_prose_and_unit_in_commands() -> None:
    (doc,) = parse_journal([{
        "MESSAGE": "Main process exited, code=exited, status=71/OSERR", "SYSLOG_IDENTIFIER": "systemd", "_PID": "1",
        "MESSAGE_ID": "98e322203f7a4ed290d09fe03c09fe15", "EXIT_CODE": "exited", "EXIT_STATUS": "71",
        "_HOSTNAME": "gorp", "__REALTIME_TIMESTAMP": "1504104967000000", "UNIT": "`reboot`.service"}])
    rootcause = _rootcause(doc)
    assert rootcause["signature"] == "systemd.process_exited"
    assert rootcause["hint"].startswith("the unit exited 71 (EX_OSERR)")
    assert rootcause["remediation"] == "`journalctl -b -u UNIT` (and the program's log file) for the error just before the exit."
