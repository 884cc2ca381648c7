"""A dependency failure ("Dependency failed for Local File Systems.") is a consequence: it is part
of the incident of the unit whose failure it follows, or, that unit unknown, an incident of its own
unit whose hint points at the dependency, never "no recognised error from ...".

Real parsers and the default enrichers (as `shipper replay` runs them), real replays into SQLite
for read-time linking; the tester's log (tests/data/tester/sysd.log) and the corpus's Fedora journal.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from helpers.samples import DATA, enrich_all, parse_journal, parse_lines, parse_paths
from shipper.enrich.incidents import Incidents
from shipper.enrich.recognise import Recognise
from shipper.enrich.relink import DEFAULT_WINDOW, _Unlinker
from shipper.event import Doc, get_path
from shipper.recognise.rules import load_rules
from shipper.report.causes import Incident, build_incidents, headline, render_text, to_json
from shipper.report.lines import quote_last_lines
from shipper.sinks.local import LocalStore
from tests.helpers.cli import shipper_out

TESTER = DATA / "tester" / "sysd.log"
FEDORA = DATA / "corpus" / "derived" / "fedora37-no-rtc" / "journal.short-iso.log"
NO_CAUSE = "no recognised error"
MOUNT = [
    "Mar  1 13:00:00 app3 systemd[1]: data.mount: Mount process exited, code=exited, status=32/n/a",
    "Mar  1 13:00:00 app3 systemd[1]: data.mount: Failed with result 'exit-code'.",
]
DEPENDENTS = [
    "Mar  1 13:00:00 app3 systemd[1]: Dependency failed for Local File Systems.",
    "Mar  1 13:00:00 app3 systemd[1]: local-fs.target: Job local-fs.target/start failed with result 'dependency'.",
]


def _incidents(docs: list[Doc], batch: int = 2000) -> list[Incident]:
    return build_incidents(enrich_all(docs, batch=batch))


def _app3(incidents: list[Incident]) -> Incident:
    (inc,) = [i for i in incidents if i.host == "app3"]
    return inc


def _is_the_mount_incident(inc: Incident) -> None:
    assert inc.unit == "data.mount" and inc.failure is not None and inc.failure.label == "exit 32"
    assert inc.hint.startswith(f"{NO_CAUSE} from data.mount in the last 10 minutes; look at `journalctl -b -u data.mount`")
    assert 'mount(8) could not mount data.mount (exit 32, "mount failure")' in inc.hint
    assert inc.consequences == ["dependency failed for Local File Systems", "dependency failed for local-fs.target (start job)"]
    text = render_text([inc])
    assert "app3  data.mount failed (exit 32) — no cause found" in text
    assert "    consequences: dependency failed for Local File Systems; dependency failed for local-fs.target (start job)\n" in text


def test_the_tester_dependency_failure_is_part_of_the_mount_incident() -> None:
    """The dependency lines come before the mount's: one incident, of data.mount, with the mount's hint."""
    _is_the_mount_incident(_app3(_incidents(parse_paths([TESTER], year=2024))))


@pytest.mark.parametrize("batch", [1, 2, 4])
def test_in_systemd_order_across_batches_too(batch: int) -> None:
    """The mount fails first, then the jobs that needed it: found whatever the batches."""
    _is_the_mount_incident(_app3(_incidents(parse_lines(MOUNT + DEPENDENTS, year=2024), batch=batch)))


def test_without_the_failed_dependency_it_is_the_dependent_unit_s_incident_with_no_preamble() -> None:
    docs = enrich_all(parse_lines(DEPENDENTS, year=2024))
    (inc,) = build_incidents(docs)  # the job line joins the description line logged with it
    assert inc.unit == "local-fs.target" and inc.events == 2 and not inc.consequences
    assert NO_CAUSE not in headline(inc)
    assert inc.hint.startswith("Local File Systems was not started because a unit it requires failed: this line does not say which")
    assert all(NO_CAUSE not in d["rootcause"]["hint"] for d in docs)


def test_the_fedora_journal_s_dependency_failures_say_no_preamble() -> None:
    docs = enrich_all(parse_paths([FEDORA], year=2022))
    dependency = [d for d in docs if get_path(d, "rootcause.signature") == "systemd.dependency_failed"]
    assert len(dependency) == 12
    assert all(not d["rootcause"]["hint"].startswith(NO_CAUSE) for d in dependency)
    units = {i.unit for i in build_incidents(docs) if i.failure and "systemd.dependency_failed" in i.failure.signatures}
    # the target's verify-active job failed in the same moment, for the same inactive target: one incident
    assert units == {"org.gnome.SettingsDaemon.XSettings.service"}


def _journal(message: str, invocation: str, unit: str, **more: str) -> dict[str, str]:
    return {"MESSAGE": message, "SYSLOG_IDENTIFIER": "systemd", "_PID": "1", "UNIT": unit, "INVOCATION_ID": invocation,
            "_HOSTNAME": "app3", "__REALTIME_TIMESTAMP": "1709298000000000", **more}


def test_a_journal_dependency_failure_joins_whatever_its_own_invocation() -> None:
    """PID 1 logs the dependent job with the dependent unit's invocation id, not the mount's."""
    entries = [
        _journal("Dependency failed for local-fs.target - Local File Systems.", "a" * 32, "local-fs.target"),
        _journal("data.mount: Mount process exited, code=exited, status=32/n/a", "b" * 32, "data.mount",
                 EXIT_CODE="exited", EXIT_STATUS="32"),
        _journal("data.mount: Failed with result 'exit-code'.", "b" * 32, "data.mount"),
    ]
    docs = enrich_all(parse_journal(entries))
    assert {d["rootcause"]["incident"] for d in docs} == {docs[0]["rootcause"]["incident"]}
    (inc,) = build_incidents(docs)
    assert inc.unit == "data.mount" and docs[0]["rootcause"]["unit"] == "local-fs.target"
    assert docs[0]["rootcause"]["dependency"] == "data.mount"


SYSERR = [
    "Mar  1 12:59:50 app3 sendmail[24097]: NOQUEUE: SYSERR(root): opendaemonsocket: daemon MTA: cannot bind: Address already in use",
    "Mar  1 13:00:00 app3 systemd[1]: sendmail.service: Main process exited, code=exited, status=71/n/a",
    "Mar  1 13:00:00 app3 systemd[1]: sendmail.service: Failed with result 'exit-code'.",
    "Mar  1 13:00:00 app3 systemd[1]: Dependency failed for Mail Relay.",
]


def test_with_a_cause_the_dependency_failure_carries_it_and_keeps_its_own_hint() -> None:
    docs = enrich_all(parse_lines(SYSERR, year=2024))
    consequence = docs[-1]["rootcause"]
    assert consequence["cause"]["signature"] == "sendmail.bind_address_in_use"
    assert consequence["hint"].startswith("Mail Relay was not started because a unit it requires failed: sendmail.service")
    (inc,) = build_incidents(docs)
    assert inc.unit == "sendmail.service" and inc.cause is not None and inc.hint == inc.cause.hint
    assert inc.consequences == ["dependency failed for Mail Relay"]


@pytest.mark.parametrize("lines", [MOUNT + DEPENDENTS, DEPENDENTS + MOUNT, DEPENDENTS, SYSERR], ids=["after", "before", "alone", "cause"])
def test_unlinking_gives_back_what_recognition_wrote(lines: list[str]) -> None:
    rules = load_rules()
    docs = Recognise(rules).enrich(parse_lines(lines, year=2024))
    before = copy.deepcopy(docs)
    Incidents(DEFAULT_WINDOW, rules).enrich(docs)
    unlink = _Unlinker(rules)
    assert [b.get("rootcause") for b in before] == [unlink(copy.deepcopy(d)).get("rootcause") for d in docs]



def _run(home: Path, *argv: str) -> str:
    return shipper_out(home, *argv, clock=1_709_300_000.0)


@pytest.mark.parametrize("source", [TESTER, FEDORA], ids=lambda p: p.name)
def test_read_time_linking_gives_what_the_replay_stored(tmp_path: Path, source: Path) -> None:
    db = tmp_path / "one.db"
    _run(tmp_path, "replay", "--store", str(db), "--year", "2024", "--timezone", "UTC", str(source))
    store = LocalStore(db, read_only=True)
    try:
        stored = build_incidents(store.iter_docs(only_recognised=True))
        quote_last_lines(store, stored)  # as `causes` does: the program's lines before a failure with no cause
    finally:
        store.close()
    relinked: dict[str, Any] = json.loads(_run(tmp_path, "causes", "--store", str(db), "--format", "json"))
    assert relinked["incidents"] == to_json(stored)["incidents"]
    assert not any(NO_CAUSE in i["headline"] for i in relinked["incidents"] if i["unit"] == "local-fs.target")

