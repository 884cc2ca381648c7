"""The recognition ingest pipeline gives a user manager's unit the commands Python gives it
(`hints.for_user_manager`: ``systemctl --user``, ``journalctl --user-unit``), in a hint and in a
variant's hint; a system unit keeps ``systemctl`` and ``-u``. It kept ``systemctl ...`` for every
document. The pipeline runs in the stand-in ingest node (tests/helpers/ingest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import ingest
from helpers.samples import parse_journal, parse_lines
from shipper.enrich.recognise import Recognise
from shipper.event import Doc
from shipper.recognise.rules import load_files
from shipper.recognise.units import UNIT_REGEX
from shipper.setup.recognition import build_pipeline

FAMILY = """\
family: demo
description: a hint with commands for the unit
gate: ["went boom"]
signatures:
  - id: demo.boom
    role: failure
    recognises: "UNIT went boom (loudly)"
    title: "boom"
    hint: "{unit} went boom: `journalctl -b -u {unit}`, then `systemctl restart {unit}`."
    remediation: "none"
    docs: [man:systemctl(1)]
    prefilter: ["went boom"]
    patterns:
      - '^(?P<unit>UNIT_REGEX) went boom(?: (?P<loud>loudly))?$'
    variants:
      - when: {loud: ["loudly"]}
        hint: "{unit} went boom loudly: `systemctl status {unit}`."
""".replace("UNIT_REGEX", UNIT_REGEX)
USER = "`journalctl -b --user-unit a.service`, then `systemctl --user restart a.service`"
SYSTEM = "`journalctl -b -u a.service`, then `systemctl restart a.service`"


def _journal(manager: str, message: str) -> Doc:
    fields = {"MESSAGE": message, "SYSLOG_IDENTIFIER": "systemd", "_PID": manager, "_COMM": "systemd",
              "_HOSTNAME": "gorp", "__REALTIME_TIMESTAMP": "1504104967000000", "_BOOT_ID": "5ea5fc4f82a14186b5332a788ef9435e"}
    fields["USER_UNIT" if manager != "1" else "UNIT"] = "a.service"
    (doc,) = parse_journal([fields])
    return doc


@pytest.mark.parametrize(("source", "message", "expected"), [
    ("text", "a.service went boom", USER),
    ("journal", "a.service went boom", USER),
    ("text", "a.service went boom loudly", "`systemctl --user status a.service`"),
    ("system", "a.service went boom", SYSTEM),
    ("system", "a.service went boom loudly", "`systemctl status a.service`"),
])
def test_the_pipeline_gives_a_user_units_commands_as_python_does(tmp_path: Path, source: str, message: str,
                                                                 expected: str) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(FAMILY)
    rules = load_files([path])
    if source == "journal":
        doc = _journal("2900", message)
    else:
        (doc,) = parse_lines([f"Aug 30 14:56:07 gorp systemd[{'1' if source == 'system' else '2900'}]: {message}"])
    (python,) = Recognise(rules).enrich([dict(doc)])
    pipeline = ingest.run(build_pipeline(rules, 1), doc)
    assert "error" not in pipeline, pipeline
    assert pipeline["rootcause"]["hint"] == python["rootcause"]["hint"]
    assert expected in pipeline["rootcause"]["hint"]
