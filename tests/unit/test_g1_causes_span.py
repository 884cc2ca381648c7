"""`shipper causes` prints an incident's span to the second: an incident shorter than a second
(stamps that differ only in fractions it does not print) shows one time, not "04:00:57–04:00:57".

The real user journals of a Fedora 37 machine without an RTC (tests/data/corpus/real/systemd/no-rtc):
XSettings' dependency failure and its job line are 0.3 ms apart."""

from __future__ import annotations

import shutil
from pathlib import Path

from helpers.cli import shipper_out
from helpers.samples import CORPUS


def test_an_incident_within_one_second_prints_one_time(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    journal.mkdir()
    for path in (CORPUS / "real" / "systemd" / "no-rtc").glob("user-1000*"):
        shutil.copy(path, journal)
    store = str(tmp_path / "events.db")
    shipper_out(tmp_path, "replay", "--quiet", "--store", store, str(journal))
    text = shipper_out(tmp_path, "causes", "--store", store)
    spans = [line.rsplit(", ", 1)[1] for line in text.splitlines() if line.startswith("    incident ")]
    assert "04:00:57" in spans and "04:06:04" in spans
    for span in spans:
        first, _, last = span.partition("–")
        assert first != last, span


def test_an_incident_of_one_event_says_event(tmp_path: Path) -> None:
    log = tmp_path / "messages"
    log.write_text("Oct 24 04:06:04 fedora systemd[1501]: Dependency failed for org.gnome.SettingsDaemon.XSettings.service"
                   " - GNOME XSettings service.\n")
    store = str(tmp_path / "events.db")
    shipper_out(tmp_path, "replay", "--quiet", "--store", store, "--year", "2022", "--timezone", "UTC", str(log))
    text = shipper_out(tmp_path, "causes", "--store", store)
    assert ": 1 event, 04:06:04\n" in text and "1 events" not in text
