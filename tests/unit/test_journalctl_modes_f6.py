"""journalctl's ``-o short-full`` zone abbreviations and ``-o with-unit`` unit idents
(shipper/parse/syslog_journalctl.py), read from real output of the corpus's no-rtc journal
(tests/data/SOURCES.md: journalctl_*_f6.*)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from shipper.event import TAG_TIMESTAMP_ZONE_IGNORED, Doc, get_path
from tests.helpers.express import needs_lane
from tests.helpers.parse import Lines, parse_text
from tests.helpers.samples import enrich_all, parse_lines
from tests.unit.test_express_lines import same_with_and_without

DATA = Path(__file__).parent.parent / "data"
WITH_UNIT = DATA / "journalctl_with_unit_f6.txt"  # TZ=UTC journalctl -o with-unit
SHORT_FULL_EDT = DATA / "journalctl_short_full_edt_f6.txt"  # TZ=America/New_York journalctl -o short-full
EXPORT = DATA / "journalctl_f6.export"  # journalctl -o export of the same entries


def parse(lines: list[str], timezone: str) -> list[Doc]:
    return parse_text("syslog", Lines(lines, [i * 1000 for i in range(len(lines))]), year=None, timezone=timezone)


def read(path: Path, timezone: str) -> list[Doc]:
    return parse(path.read_text().splitlines(), timezone)


def test_short_full_abbreviation_of_the_zone_gives_the_journals_time() -> None:
    edt = read(SHORT_FULL_EDT, "America/New_York")
    utc = read(WITH_UNIT, "UTC")[: len(edt)]
    assert [d["@timestamp"] for d in edt] == [d["@timestamp"] for d in utc]
    assert edt[0]["@timestamp"] == "2022-10-24T04:04:20.000000Z"
    assert not any(d.get("tags") for d in edt)


def test_an_abbreviation_of_another_zone_is_read_in_the_configured_zone_and_tagged() -> None:
    docs = read(SHORT_FULL_EDT, "UTC")
    assert docs[0]["@timestamp"] == "2022-10-24T00:04:20.000000Z"
    assert all(d["tags"] == [TAG_TIMESTAMP_ZONE_IGNORED] for d in docs)


@pytest.mark.parametrize(("line", "zone", "stamp", "tagged"), [
    # the repeated hour: the abbreviation tells the pass
    ("Sun 2022-11-06 01:30:00 EDT h a[1]: m", "America/New_York", "2022-11-06T05:30:00.000000Z", False),
    ("Sun 2022-11-06 01:30:00 EST h a[1]: m", "America/New_York", "2022-11-06T06:30:00.000000Z", False),
    # a zone's own abbreviation of the other season (a clock set wrong) still means its offset
    ("Mon 2022-10-24 00:00:53 EST h a[1]: m", "America/New_York", "2022-10-24T05:00:53.000000Z", False),
    # CST: Chicago's here, never guessed otherwise (China, Cuba)
    ("Mon 2022-10-24 00:00:53 CST h a[1]: m", "America/Chicago", "2022-10-24T06:00:53.000000Z", False),
    ("Mon 2022-10-24 00:00:53 CST h a[1]: m", "Asia/Shanghai", "2022-10-23T16:00:53.000000Z", False),
    ("Mon 2022-10-24 00:00:53 CST h a[1]: m", "America/New_York", "2022-10-24T04:00:53.000000Z", True),
    ("Mon 2022-10-24 00:00:53 CET h a[1]: m", "Europe/Berlin", "2022-10-23T23:00:53.000000Z", False),
    ("Mon 2022-10-24 00:00:53 CEST h a[1]: m", "Europe/Berlin", "2022-10-23T22:00:53.000000Z", False),
    # zones without an abbreviation: journalctl prints the offset's hours
    ("Mon 2022-10-24 00:00:53 +03 h a[1]: m", "UTC", "2022-10-23T21:00:53.000000Z", False),
])
def test_short_full_zone_words(line: str, zone: str, stamp: str, tagged: bool) -> None:
    (doc,) = parse([line], zone)
    assert doc["@timestamp"] == stamp
    assert doc["process"] == {"name": "a", "pid": 1}
    assert doc.get("tags", []) == ([TAG_TIMESTAMP_ZONE_IGNORED] if tagged else [])


def test_with_unit_idents_are_units_not_processes() -> None:
    docs = read(WITH_UNIT, "UTC")
    manager = [d for d in docs if d["message"].startswith("udisks2.service: ")]
    assert manager and all(d["process"] == {"name": "systemd", "pid": 1} and "systemd" not in d for d in manager)
    user = [d for d in docs if d["message"].startswith("Queued start job")]
    assert user[0]["process"] == {"name": "systemd", "pid": 1094}
    assert "systemd" not in user[0]  # (a user manager's own unit is not the unit its lines are about)


def test_a_user_manager_s_with_unit_lines_name_the_user_s_unit() -> None:
    """``user@1000.service/init.scope[1094]: app.service: Failed ...`` was given ``systemd.unit:
    user@1000.service``, which recognition reads before the text: the failure, its hint and its
    commands named user@1000.service (found by a tester)."""
    lines = ["Mon 2022-10-24 04:00:29 UTC fedora user@1000.service/init.scope[1094]: "
             "app.service: Main process exited, code=exited, status=1/FAILURE",
             "Mon 2022-10-24 04:00:29 UTC fedora user@1000.service/init.scope[1094]: "
             "app.service: Failed with result 'exit-code'."]
    docs = enrich_all(parse_lines(lines, "syslog"))
    assert [get_path(d, "rootcause.unit") for d in docs] == ["app.service", "app.service"]
    assert all("user@1000" not in get_path(d, "rootcause.hint") for d in docs)


@pytest.mark.parametrize(("line", "process", "systemd"), [
    ("Mon 2022-10-24 00:00:53 UTC h sendmail.service[123]: x", {"pid": 123}, {"unit": "sendmail.service"}),
    ("Oct 24 00:00:53 h sendmail.service[123]: x", {"pid": 123}, {"unit": "sendmail.service"}),
    ("2022-10-24T00:00:53+00:00 h session-c1.scope[9]: x", {"pid": 9}, {"unit": "session-c1.scope"}),
    ("Oct 24 00:00:53 h user@1000.service/app-x.service[5]: x", {"pid": 5},
     {"unit": "user@1000.service", "user_unit": "app-x.service"}),
    # not units: a dotted ident of another kind, a suffix that is no unit type, shell syntax
    ("Oct 24 00:00:53 h org.gnome.Shell.desktop[5]: x", {"name": "org.gnome.Shell.desktop", "pid": 5}, None),
    ("Oct 24 00:00:53 h $(id).service[5]: x", {"name": "$(id).service", "pid": 5}, None),
])
def test_unit_idents_in_every_header_family(line: str, process: dict[str, object], systemd: object) -> None:
    (doc,) = parse([line], "UTC")
    assert doc["process"] == process
    assert doc.get("systemd") == systemd


def _recognised(store: Path, *args: str) -> str:
    run = [sys.executable, "-m", "shipper"]
    subprocess.run([*run, "replay", "--quiet", "--store", str(store), *args], check=True, capture_output=True)
    out = subprocess.run([*run, "causes", "--store", str(store)], check=True, capture_output=True, text=True).stdout
    return next(line for line in out.splitlines() if line.startswith("events: "))


def test_recognition_of_with_unit_and_short_full_as_of_the_export(tmp_path: Path) -> None:
    export = _recognised(tmp_path / "e.db", str(EXPORT))
    assert export.endswith(", 8 recognised")
    assert _recognised(tmp_path / "s.db", "--timezone", "America/New_York", str(SHORT_FULL_EDT)) == export
    assert _recognised(tmp_path / "w.db", "--timezone", "UTC", str(WITH_UNIT)).endswith(", 8 recognised")


@needs_lane
def test_the_express_lane_leaves_unit_idents_to_the_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [f"Oct 24 00:00:{s:02d} fedora {tag}: line {s}" for s in range(50)
             for tag in ("sendmail.service[123]", "user@42.service/init.scope[9]", "app[7]", "a.b[1]")]
    assert same_with_and_without(monkeypatch, ("\n".join(lines) + "\n").encode()) > 0
