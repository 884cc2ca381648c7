"""Signature files: the shipped ones load and carry the ids of the issue; a file that does not load
is a ConfigError naming the file and the line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shipper.errors import ConfigError
from shipper.recognise.rules import load_files, load_rules, load_signatures

ISSUE_IDS = {
    "elasticsearch.container_exited_config",  # docker compose "NAME exited with code 78" (s16)
    "sendmail.bind_address_in_use",
    "sendmail.bind_failed",
    "sendmail.socket_failed",
    "sendmail.socket_wedged",
    "sendmail.syserr",
    "elasticsearch.bootstrap_checks_failed",
    "elasticsearch.bootstrap.file_descriptors",
    "elasticsearch.bootstrap.max_map_count",
    "elasticsearch.bootstrap.max_threads",
    "elasticsearch.bootstrap.memory_lock",
    "elasticsearch.bootstrap.heap_size",
    "elasticsearch.bootstrap.discovery",
    "elasticsearch.bootstrap.system_call_filter",
    "elasticsearch.bootstrap.other",
    "systemd.process_exited",
    "systemd.unit_failed",
    "systemd.pid_file_missing",
    "systemd.start_failed",
    "systemd.start_limit_hit",
    "systemd.oom_killed",
    "systemd.watchdog_timeout",
    "systemd.dependency_failed",
    "systemd.unit_started",
    "kernel.oom_kill",
    "kernel.boot",  # the kernel's banner at boot: ends a text log's open incidents of the host (s16)
    "elasticsearch.did_not_exit_normally",
}

GOOD = """\
family: demo
description: a demo family
gate: ["boom"]
signatures:
  - id: demo.boom
    role: cause
    recognises: "boom N"
    title: "boom {n}"
    hint: "it went boom {n} times"
    remediation: "stop it"
    docs: [man:boom(1)]
    prefilter: ["boom"]
    patterns:
      - 'boom (?P<n>\\d+)'
    fields:
      demo.count: {var: n, type: int}
"""


def _write(tmp_path: Path, text: str, name: str = "demo.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _error(tmp_path: Path, text: str) -> str:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_files([path])
    message = str(err.value)
    assert str(path) in message, message
    return message


def test_shipped_signatures_have_exactly_the_issue_ids() -> None:
    assert {s.id for s in load_signatures()} == ISSUE_IDS


def test_shipped_signatures_are_complete() -> None:
    for sig in load_signatures():
        assert sig.role in ("cause", "failure", "summary", "recovery", "boot")
        assert sig.hint and sig.remediation and sig.docs and sig.title and sig.recognises
        assert all(p.prefilter for p in sig.patterns)
        assert all(d.startswith(("https://", "man:")) for d in sig.docs)


def test_roles_of_the_families() -> None:
    roles = {s.id: s.role for s in load_signatures()}
    assert roles["elasticsearch.bootstrap_checks_failed"] == "summary"
    assert roles["sendmail.socket_wedged"] == "failure"
    systemd_causes = {"systemd.oom_killed", "systemd.watchdog_timeout"}  # the unit's lines that say why it failed
    systemd_recoveries = {"systemd.unit_started"}  # a start after a failure: ends the incident
    assert all(roles[i] == ("cause" if i in systemd_causes else "recovery" if i in systemd_recoveries else "failure")
               for i in ISSUE_IDS if i.startswith("systemd."))
    assert roles["kernel.oom_kill"] == "cause" and roles["kernel.boot"] == "boot"
    assert roles["elasticsearch.did_not_exit_normally"] == "failure"
    assert all(roles[i] == "cause" for i in ISSUE_IDS if i.startswith("elasticsearch.bootstrap."))


def test_journal_message_ids_are_the_unit_records() -> None:
    by_id = load_rules().by_id
    assert by_id["systemd.process_exited"].message_ids == ("98e322203f7a4ed290d09fe03c09fe15",)
    assert by_id["systemd.unit_failed"].message_ids == ("d9b373ed55a64feb8242e02dbe79a49c",)


def test_regexes_stay_in_the_python_and_joni_subset() -> None:
    """Named groups as (?P<name>...), no lookbehind, possessive quantifiers, \\Z or inline flags."""
    for sig in load_signatures():
        for p in sig.patterns:
            assert not re.search(r"\(\?<[=!]|[*+?}]\+|\\Z|\(\?[aiLmsux-]+[):]|\(\?P=", p.regex), (sig.id, p.regex)
            re.compile(p.regex)


def test_a_good_file_loads(tmp_path: Path) -> None:
    rules = load_files([_write(tmp_path, GOOD)])
    assert [s.id for s in rules.signatures] == ["demo.boom"]
    assert rules.signatures[0].fields[0].type == "int"


def test_unknown_key_names_file_and_line(tmp_path: Path) -> None:
    message = _error(tmp_path, GOOD.replace("    role: cause\n", "    role: cause\n    colour: red\n"))
    assert ":7:" in message and "colour" in message and "unknown key" in message


def test_bad_regex_names_file_and_line(tmp_path: Path) -> None:
    message = _error(tmp_path, GOOD.replace("'boom (?P<n>\\d+)'", "'boom (?P<n>\\d+'"))
    assert ":14:" in message and "not a valid regular expression" in message


def test_missing_hint(tmp_path: Path) -> None:
    message = _error(tmp_path, GOOD.replace('    hint: "it went boom {n} times"\n', ""))
    assert "hint" in message and "missing" in message and ":5:" in message


@pytest.mark.parametrize(
    "regex, problem",
    [
        ("(?<=x)boom (?P<n>\\d+)", "lookbehind"),
        ("boom (?P<n>\\d++)", "possessive"),
        ("boom (?P<n>\\d+)\\Z", "\\Z"),
        ("(?i)boom (?P<n>\\d+)", "inline flags"),
        ("boom (?<n>\\d+)", "(?P<name>"),
    ],
)
def test_constructs_one_engine_rejects(tmp_path: Path, regex: str, problem: str) -> None:
    message = _error(tmp_path, GOOD.replace("'boom (?P<n>\\d+)'", f"'{regex}'"))
    assert problem in message and ":14:" in message


def test_unknown_template_variable(tmp_path: Path) -> None:
    message = _error(tmp_path, GOOD.replace("it went boom {n} times", "it went boom {times} times"))
    assert "{times}" in message and ":9:" in message


def test_field_from_an_unknown_variable(tmp_path: Path) -> None:
    message = _error(tmp_path, GOOD.replace("{var: n, type: int}", "{var: m, type: int}"))
    assert "{m}" in message


def test_bad_role_and_id(tmp_path: Path) -> None:
    assert "is not a role" in _error(tmp_path, GOOD.replace("role: cause", "role: culprit"))
    assert "must look like demo." in _error(tmp_path, GOOD.replace("id: demo.boom", "id: other.boom"))


def test_unreachable_pattern(tmp_path: Path) -> None:
    message = _error(tmp_path, GOOD.replace('gate: ["boom"]\n', ""))
    assert "can never be tried" in message


def test_unknown_context(tmp_path: Path) -> None:
    text = GOOD.replace("      - 'boom (?P<n>\\d+)'", "      - {regex: 'boom (?P<n>\\d+)', context: nowhere}")
    assert "context 'nowhere'" in _error(tmp_path, text)


def test_not_yaml(tmp_path: Path) -> None:
    message = _error(tmp_path, GOOD + "  - [unclosed\n")
    assert "not valid YAML" in message


def test_duplicate_id_across_files(tmp_path: Path) -> None:
    a = _write(tmp_path, GOOD, "a.yaml")
    b = _write(tmp_path, GOOD, "b.yaml")
    with pytest.raises(ConfigError, match="defined twice"):
        load_files([a, b])
