"""The recognition pipeline names the unit, and sets the fields, that shipper's recognition does, in
the documents Filebeat really sends (tests/data/corpus/real/integrations: Filebeat 8.15's journald
input, a user manager's and the system manager's entries) and in the lines the brief named.

Each case compares with `Recognise` on the same entry as shipper reads it. The pipeline runs in
the stand-in ingest node (tests/helpers/ingest.py).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from helpers import ingest, other_shippers
from helpers.samples import CORPUS, parse_journal, parse_lines, parse_paths
from shipper.enrich.recognise import Recognise
from shipper.enrich.relink import relink
from shipper.event import Doc, get_path
from shipper.setup.recognition import FILES

ROOT = Path(__file__).resolve().parents[2]
BODY = json.loads((ROOT / FILES[0]).read_text())
INTEGRATIONS = CORPUS / "real" / "integrations"
JOB_DONE = "9d1aaa27d60140bd96365438aad20286"  # systemd's job-done MESSAGE_ID, as in the documents


def _filebeat(name: str) -> Doc:
    """The first document of a system integration's test file, as Filebeat sent it."""
    doc: Doc = json.loads((INTEGRATIONS / name).read_text())["events"][0]
    return doc


def _python(doc: Doc) -> Doc:
    (out, *_) = Recognise().enrich([copy.deepcopy(doc)])
    return out


def _pipeline(doc: Doc) -> Doc:
    out = ingest.run(BODY, doc)
    assert ingest.failure(out) is None and not any(k.startswith("rc") for k in out), out
    return out


def _entry(**fields: str) -> dict[str, str]:
    return {"SYSLOG_IDENTIFIER": "systemd", "_COMM": "systemd", "_HOSTNAME": "bullseye", "MESSAGE_ID": JOB_DONE,
            "__REALTIME_TIMESTAMP": "1730731623792000", "_BOOT_ID": "9d65da94a1514b2caab5600711fa1844", **fields}


@pytest.mark.parametrize(("name", "fields", "unit", "command"), [
    # a user manager (systemd[523]): the unit is USER_UNIT=, Filebeat's journald.custom.user_unit;
    # its systemd.user_unit is the manager's own init.scope
    ("test-syslog-debian11.json",
     {"_PID": "523", "USER_UNIT": "basic.target", "_SYSTEMD_UNIT": "user@1000.service", "_SYSTEMD_USER_UNIT": "init.scope"},
     "basic.target", "`systemctl --user status basic.target`"),
    # the system manager: UNIT=, which Filebeat 8.15 put in journald.custom.unit; its systemd.unit is init.scope
    ("test-systemd-journald.json", {"_PID": "1", "UNIT": "rsyslog.service", "_SYSTEMD_UNIT": "init.scope"},
     "rsyslog.service", "`systemctl status rsyslog.service`"),
])
def test_a_failed_start_filebeat_sent_names_the_unit_the_entry_is_about(name: str, fields: dict[str, str], unit: str,
                                                                        command: str) -> None:
    """Bug: Filebeat's documents have no process.name (syslog.identifier, journald.process.name),
    so no systemd pattern was tried; and had one been, {unit} was init.scope, the manager's own."""
    message = f"Failed to start {'Basic System' if unit == 'basic.target' else 'System Logging Service'}."
    sent = {**_filebeat(name), "message": message}
    got = _pipeline(sent)
    (shipper_doc,) = parse_journal([_entry(MESSAGE=message, **fields)])
    want = _python(shipper_doc)
    assert got["rootcause"]["signature"] == "systemd.start_failed" and got["rootcause"]["unit"] == unit
    assert command in got["rootcause"]["remediation"]
    assert {k: v for k, v in got["rootcause"].items()} == want["rootcause"]
    assert got["systemd"] == sent["systemd"]  # the sender's own, left alone; what shipper's documents have, added
    assert got["process"] == {**sent["process"], "name": "systemd"}
    assert got["journald"] == {**sent["journald"], "boot_id": sent["journald"]["host"]["boot_id"]}


def test_a_containers_exit_with_code_78_names_what_shipper_names() -> None:
    """docker compose's line: the unit is the family's (elasticsearch.service, as shipper's own
    document has it; the report names the container: shipper/report/subject.py), the container and
    the exit status are fields, as shipper sets them."""
    (doc,) = [d for d in parse_paths([CORPUS / "excerpts/elasticsearch/es5-docker-likely-too-low.log"])
              if d["message"].endswith("exited with code 78")]
    want, got = _python(doc), _pipeline(doc)
    assert got["rootcause"]["unit"] == "elasticsearch.service" and got["container"] == {"name": "dockerelk5_elasticsearch_1"}
    assert got["process"]["exit_code"] == 78
    assert (got["rootcause"], got["container"], got["process"]) == (want["rootcause"], want["container"], want["process"])


@pytest.mark.parametrize(("line", "fields"), [
    ("app.service: Main process exited, code=exited, status=71/n/a",  # systemd < v239: the name computed
     {"systemd.exit_code": "exited", "process.exit_code": 71, "systemd.exit_status_name": "OSERR",
      "process.exit_code_explained": "EX_OSERR (71): an operating system error (can't fork, pipe, ...)"}),
    ("nginx.service: Main process exited, code=dumped, status=6/ABRT",
     {"systemd.exit_code": "dumped", "process.exit_code": 6, "systemd.exit_status_name": "ABRT"}),
    ("gdm.service: Failed with result 'exit-code'.", {"systemd.result": "exit-code", "systemd.unit": "gdm.service"}),
])
def test_the_typed_fields_the_kibana_views_show_are_set_as_shipper_sets_them(line: str, fields: dict[str, Any]) -> None:
    (doc,) = parse_lines([f"Aug 30 14:56:07 gorp systemd[1]: {line}"])
    want, got = _python(doc), _pipeline(doc)
    for field, value in fields.items():
        assert get_path(want, field) == value or field == "process.exit_code_explained", (field, get_path(want, field))
        assert get_path(got, field) == get_path(want, field), field
    assert got["rootcause"] == want["rootcause"]


@pytest.mark.parametrize("line", [
    "sendmail.service[812]: NOQUEUE: SYSERR(root): opendaemonsocket: daemon MTA: cannot bind: Address already in use",
    "sendmail.service[812]: daemon MTA: problem creating SMTP socket",
])
def test_a_with_unit_line_is_matched_as_its_units_process(line: str) -> None:
    """``journalctl -o with-unit`` names the unit, not the process: its lines are matched as the
    process the signature files give that unit (sendmail), as shipper matches them."""
    (doc,) = parse_lines([f"Aug 30 14:56:07 gorp {line}"])
    assert "name" not in doc["process"] and doc["systemd"]["unit"] == "sendmail.service"
    want, got = _python(doc), _pipeline(doc)
    assert want["rootcause"]["signature"].startswith("sendmail.") and got["rootcause"] == want["rootcause"]
    assert got["sendmail"]["daemon"] == want["sendmail"]["daemon"] == "MTA"


def test_fields_of_another_shape_than_shippers_do_not_fail_the_document() -> None:
    """Vector sends ``host`` as a string, a Docker line (Fluent Bit) ``log`` as a string: the view
    passes over them (painless fails on ``?.`` into a string, which would fail every document)."""
    entry = _entry(MESSAGE="gdm.service: Failed with result 'exit-code'.", _PID="1", MESSAGE_ID="d9b373ed55a64feb8242e02dbe79a49c",
                   UNIT="gdm.service", UNIT_RESULT="exit-code")
    sent = {**{k: v for k, v in entry.items() if k != "MESSAGE"}, "message": entry["MESSAGE"], "host": "bullseye",
            "log": "a Docker line", "syslog": "not an object", "journald": ["a list"]}
    got = _pipeline(sent)
    (shipper_doc,) = parse_journal([entry])
    want = _python(shipper_doc)
    assert got["rootcause"]["signature"] == "systemd.unit_failed" and got["rootcause"]["unit"] == "gdm.service"
    assert got["rootcause"] == want["rootcause"]
    assert (got["host"], got["log"], got["syslog"], got["journald"]) == ("bullseye", "a Docker line", "not an object", ["a list"])


def test_relink_links_what_filebeat_sent_as_it_links_shippers_own_documents() -> None:
    """`shipper relink` links the recognised documents the pipeline leaves (a user manager's scopes
    that failed, the dependency failure after them) as it links shipper's own, twice over. Bug:
    Filebeat's documents have no process.name, so relink took the user manager's units for the
    system manager's and, recognising a line again, found nothing (the failure's unit and hint
    changed on the second relink)."""
    ours, theirs = [], []
    for _, entry in other_shippers.entries([CORPUS / "derived/fedora37-no-rtc/failures.export"]):
        (doc,) = parse_journal([entry])
        mine, sent = _python(doc), _pipeline(other_shippers.filebeat(entry))
        if "rootcause" in mine:
            ours.append(mine)
            theirs.append({**sent, "@timestamp": doc["@timestamp"], "event": doc["event"]})
    assert len(ours) >= 30 and [d.get("rootcause") for d in theirs] == [d["rootcause"] for d in ours]
    for _ in range(2):
        ours, theirs = relink(ours), relink(theirs)
        assert _linked(theirs) == _linked(ours)
    assert sum("incident" in d["rootcause"] for d in ours) >= 30


def _linked(docs: list[Doc]) -> list[tuple[str, dict[str, Any]]]:
    """Each document's rootcause by its id, the incident as the ids of its documents (an incident's
    id is made of its first event's, and which is first within one second is the input's order:
    the journal cursor, which Filebeat does not send)."""
    members: dict[str, list[str]] = {}
    for doc in docs:
        if "incident" in doc["rootcause"]:
            members.setdefault(doc["rootcause"]["incident"], []).append(doc["event"]["id"])
    out = []
    for doc in sorted(docs, key=lambda d: d["event"]["id"]):
        rc = dict(doc["rootcause"])
        if "incident" in rc:
            rc["incident"] = sorted(members[rc["incident"]])
        out.append((doc["event"]["id"], rc))
    return out
