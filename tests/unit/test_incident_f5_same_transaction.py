"""Dependency failures of one transaction are one incident. When a target that units need is
inactive, systemd fails their jobs together, in one moment: ``Dependency failed for
org.gnome.SettingsDaemon.XSettings.service``, its ``Job .../start failed with result 'dependency'``
and ``gnome-session-x11-services-ready.target: Job .../verify-active failed with result
'dependency'``. The target's line was an incident of its own for the same event.

The real user journals of a Raspberry Pi without an RTC (tests/data/corpus/real/systemd/no-rtc):
the same moment in four boots, each boot's its own incident."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

from helpers.cli import shipper_out
from helpers.samples import CORPUS, enrich_all, parse_lines
from shipper.event import get_path

NO_RTC = CORPUS / "real" / "systemd" / "no-rtc"
TARGET = "gnome-session-x11-services-ready.target"
XSETTINGS = "org.gnome.SettingsDaemon.XSettings.service"


def test_the_targets_job_joins_the_incident_of_the_services_job_in_every_boot(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    journal.mkdir()
    for path in NO_RTC.glob("user-1000*"):
        shutil.copy(path, journal)
    out = tmp_path / "out.ndjson"
    shipper_out(tmp_path, "replay", "--quiet", "--output", "ndjson", "-o", str(out), str(journal))
    docs = [d for d in map(json.loads, out.read_text().splitlines())
            if get_path(d, "rootcause.signature") == "systemd.dependency_failed"]
    incidents: dict[str, Counter[str]] = {}
    for doc in docs:
        incidents.setdefault(doc["rootcause"]["incident"], Counter())[doc["rootcause"]["unit"]] += 1
    assert len(docs) == 12 and list(incidents.values()) == [Counter({XSETTINGS: 2, TARGET: 1})] * 4
    boots = {d["rootcause"]["incident"]: d["journald"]["boot_id"] for d in docs}
    assert len(set(boots.values())) == 4
    for doc in docs:
        assert doc["rootcause"]["unit"] in doc["message"] and "cause" not in doc["rootcause"]


def test_a_dependency_failure_a_while_after_another_units_is_its_own() -> None:
    lines = [f"Oct 24 04:00:57 fedora systemd[1562]: Dependency failed for {XSETTINGS} - GNOME XSettings service.",
             f"Oct 24 04:00:57 fedora systemd[1562]: {XSETTINGS}: Job {XSETTINGS}/start failed with result 'dependency'.",
             f"Oct 24 04:00:59 fedora systemd[1562]: {TARGET}: Job {TARGET}/verify-active failed with result 'dependency'."]
    docs = enrich_all(parse_lines(lines, year=2022))
    assert len({get_path(d, "rootcause.incident") for d in docs}) == 2
