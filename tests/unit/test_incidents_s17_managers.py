"""Linking (`shipper.enrich.incidents`): the system manager's unit and a user manager's unit of one
name each keep their own open incident, and a unit's start up to an hour after its failure (the hour
in which `shipper.enrich.nearby` keeps it) ends the unit's last incident.

Before: both units were one lookup (host, unit), so the user unit's failure hid the system unit's
incident (its start then ended nothing, its next failure opened a new incident); and a start kept
10 to 60 minutes after the failure belonged to no incident (no "running again at ..." in `causes`).

Real replays through the CLI (syslog text, journal files made by systemd-journal-remote from the
corpus's export entries), with and without workers; `causes` and `relink` read back what a replay
stored and must give the same incidents. The text lines: tests/data/managers_s17/README.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from shipper.config.model import RecogniseConfig
from shipper.enrich.chain import default_enrichers
from shipper.enrich.incidents import Incidents
from shipper.enrich.recognise import Recognise
from tests.fakees import FakeES
from tests.helpers.cli import shipper_out
from tests.helpers.es import err, make_env, run_command
from tests.helpers.journal import export_entry, make_journal
from tests.helpers.samples import CORPUS, DATA, enrich_all, parse_lines

HERE = DATA / "managers_s17"
EXPORT = CORPUS / "derived" / "fedora37-no-rtc" / "failures.export"
UDISKS2 = "udisks2.service"
# The fields of the corpus's user manager 1562 (its entries in failures.export) that tell who logged.
USER_MANAGER = ("_PID", "TID", "_UID", "_GID", "_CMDLINE", "_CAP_EFFECTIVE", "_SELINUX_CONTEXT", "_AUDIT_SESSION",
                "_AUDIT_LOGINUID", "_SYSTEMD_CGROUP", "_SYSTEMD_OWNER_UID", "_SYSTEMD_UNIT", "_SYSTEMD_USER_UNIT",
                "_SYSTEMD_SLICE", "_SYSTEMD_USER_SLICE", "_SYSTEMD_INVOCATION_ID")
OTHER_BOOT = "4c708e1fd0744336be16f3931aa861fb"  # the boot in which the corpus's udisks2.service started again


def _replay_ndjson(tmp: Path, path: Path, *extra: str) -> list[dict[str, Any]]:
    """The recognised documents ``shipper replay --output ndjson`` makes of ``path``."""
    out = tmp / f"{path.name}.ndjson"
    shipper_out(tmp, "replay", "--output", "ndjson", "-o", str(out), "--quiet", "--timezone", "UTC", *extra, str(path))
    docs = [json.loads(line) for line in out.read_text().splitlines()]
    return [d for d in docs if "rootcause" in d]


def _links(docs: list[dict[str, Any]]) -> list[tuple[str, object, str, object]]:
    """(@timestamp, manager PID, role, incident) of each recognised document."""
    return [(d["@timestamp"], d.get("process", {}).get("pid"), d["rootcause"]["role"], d["rootcause"].get("incident"))
            for d in docs]


# --- 1. the system manager's and a user manager's unit of one name -----------------------------


@pytest.mark.parametrize("workers", ["0", "2"])
def test_the_system_unit_s_start_and_failure_find_its_incident_after_the_user_unit_s(tmp_path: Path,
                                                                                     workers: str) -> None:
    docs = _replay_ndjson(tmp_path, HERE / "two-managers.log", "--workers", workers)
    links = _links(docs)
    system, user, start = links[0][3], links[2][3], links[4]
    assert links[1][3] == system and links[3][3] == user and None not in (system, user) and system != user
    assert start[1:] == (1, "recovery", system)  # the system unit's start ends the system unit's incident
    again_system, again_user = links[5][3], links[7][3]
    assert again_system not in (system, user) and again_user not in (system, user, again_system)
    assert [link[3] for link in links[9:]] == [again_system] * 2  # PID 1's unit fails again: the same incident
    assert "since it started again" not in docs[9]["rootcause"]["hint"]


def test_both_units_incidents_are_saved_with_linking_s_state() -> None:
    """The daemon saves `Incidents.state` (as JSON) between batches: both units' incidents come back."""
    docs = parse_lines((HERE / "two-managers.log").read_text().splitlines())
    whole = enrich_all(copy.deepcopy(docs), batch=1)
    first = default_enrichers(RecogniseConfig())
    halves = enrich_all(copy.deepcopy(docs[:4]), batch=1, enrichers=first)
    recognise, incidents = first
    assert isinstance(recognise, Recognise) and isinstance(incidents, Incidents)
    state = json.loads(json.dumps(incidents.state()))
    assert [row[:2] for row in state["open"]] == [["fedora", UDISKS2]] * 2
    second = default_enrichers(RecogniseConfig())
    assert isinstance(second[0], Recognise) and isinstance(second[1], Incidents)
    second[1].restore(state)
    second[0].nearby.restore(recognise.nearby.facts())
    halves += enrich_all(copy.deepcopy(docs[4:]), batch=1, enrichers=second)
    assert [d.get("rootcause") for d in halves] == [d.get("rootcause") for d in whole]
    assert halves[4]["rootcause"]["incident"] == halves[0]["rootcause"]["incident"]


def _entries() -> list[dict[str, str]]:
    blocks = [b for b in EXPORT.read_text().split("\n\n") if b.strip()]
    return [dict(line.split("=", 1) for line in block.splitlines()) for block in blocks]


def _system_failure() -> list[dict[str, str]]:
    """The corpus's udisks2.service core dump, as PID 1 logged it (its first boot)."""
    found = [e for e in _entries() if e.get("UNIT") == UDISKS2 and e["_BOOT_ID"].startswith("5ea5")]
    assert [e["MESSAGE"] for e in found] == ["udisks2.service: Main process exited, code=dumped, status=6/ABRT",
                                             "udisks2.service: Failed with result 'core-dump'."]
    return [{k: v for k, v in e.items() if k != "__CURSOR"} for e in found]


def _later(entry: dict[str, str], seconds: int, **fields: str) -> dict[str, str]:
    moved = {**entry, **fields}
    for clock in ("__REALTIME_TIMESTAMP", "__MONOTONIC_TIMESTAMP", "_SOURCE_REALTIME_TIMESTAMP"):
        moved[clock] = str(int(entry[clock]) + seconds * 1_000_000)
    return moved


def _as_user_manager(entry: dict[str, str], seconds: int) -> dict[str, str]:
    """``entry`` as user manager 1562 of the corpus logs its own unit of that name ``seconds`` later."""
    user = next(e for e in _entries() if e["_PID"] == "1562")
    moved = {k: v for k, v in _later(entry, seconds).items() if k not in ("UNIT", "INVOCATION_ID")}
    return {**moved, **{k: user[k] for k in USER_MANAGER if k in user}, "USER_UNIT": UDISKS2,
            "USER_INVOCATION_ID": user["USER_INVOCATION_ID"]}


def _started(entry: dict[str, str], seconds: int, **fields: str) -> dict[str, str]:
    """PID 1's start of udisks2.service (the corpus's entry of it) ``seconds`` after ``entry``."""
    start = {k: v for k, v in entry.items() if k not in ("UNIT_RESULT", "EXIT_CODE", "EXIT_STATUS", "COMMAND")}
    return _later(start, seconds, MESSAGE="Started udisks2.service - Disk Manager.",
                  MESSAGE_ID="39f53479d3a045ac8e11786248231fbf", JOB_TYPE="start", JOB_RESULT="done",
                  INVOCATION_ID="2a61a30f6ef34bd48bb26e45754fb2b0", **fields)


def _replay_journal(tmp: Path, entries: list[dict[str, str]]) -> list[tuple[str, object, str, object]]:
    export = b"".join(export_entry(e) for e in entries)
    journal = make_journal(tmp / "journal", export)
    return _links(_replay_ndjson(tmp, journal))


def test_journal_the_system_unit_s_start_ends_its_incident_not_the_user_unit_s(tmp_path: Path) -> None:
    system = _system_failure()
    links = _replay_journal(tmp_path, [*system, *(_as_user_manager(e, 40) for e in system), _started(system[1], 100)])
    assert [link[1:3] for link in links] == [(1, "failure")] * 2 + [(1562, "failure")] * 2 + [(1, "recovery")]
    assert links[0][3] == links[1][3] == links[4][3] != links[2][3] == links[3][3]


def test_journal_the_system_unit_s_failure_joins_its_incident_after_the_user_unit_s(tmp_path: Path) -> None:
    system = _system_failure()
    links = _replay_journal(tmp_path, [*system, *(_as_user_manager(e, 40) for e in system),
                                       *(_later(e, 60) for e in system)])
    assert links[0][3] == links[1][3] == links[4][3] == links[5][3] != links[2][3]


def test_journal_a_start_half_an_hour_after_the_failure_ends_its_incident(tmp_path: Path) -> None:
    system = _system_failure()
    links = _replay_journal(tmp_path, [*system, _started(system[1], 1800)])
    assert links[2][2] == "recovery" and links[2][3] == links[0][3] is not None


def test_journal_a_start_in_another_boot_ends_nothing_of_the_boot_before(tmp_path: Path) -> None:
    """The corpus's host has no RTC: udisks2.service started again 6 s after it failed, in the next boot."""
    system = _system_failure()
    links = _replay_journal(tmp_path, [*system, _started(system[1], 6, _BOOT_ID=OTHER_BOOT)])
    assert links[2][2] == "recovery" and links[2][3] is None


# --- 2. a start up to an hour after the failure ----------------------------------------------


@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_start_up_to_an_hour_after_the_failure_ends_its_incident(tmp_path: Path, workers: str) -> None:
    links = _links(_replay_ndjson(tmp_path, HERE / "late-starts.log", "--workers", workers))
    udisks2, gdm, later = links[0][3], links[3][3], links[6][3]
    assert [link[2:] for link in links] == [("failure", udisks2)] * 2 + [("recovery", udisks2)] + \
        [("failure", gdm)] * 2 + [("recovery", gdm)] + [("failure", later)] * 2  # (a start 60 min 1 s after: dropped)
    assert len({udisks2, gdm, later, None}) == 4


def test_a_start_with_no_pid_after_a_failure_with_none_ends_its_incident(tmp_path: Path) -> None:
    """rsyslog on CentOS 7 writes ``systemd:``: its lines fit any manager."""
    links = _links(_replay_ndjson(tmp_path, HERE / "rhel7-late-start.log", "--year", "2020"))
    assert links[-1][2] == "recovery" and links[-1][3] == links[0][3] is not None


def _causes(db: Path, *window: str) -> list[dict[str, Any]]:
    said = shipper_out(db.parent, "causes", "--store", str(db), "--format", "json", *window)
    return list(json.loads(said)["incidents"])


@pytest.mark.parametrize("since, unit, recovered", [
    ("2022-10-24T06:10:00Z", "gdm.service", "2022-10-24T06:29:20.000000Z"),  # more than a window after the failure
    ("2022-10-24T04:30:00Z", UDISKS2, "2022-10-24T04:54:20.000000Z"),
])
def test_causes_reads_back_to_the_incident_a_start_ends(tmp_path: Path, since: str, unit: str, recovered: str) -> None:
    db = tmp_path / "events.db"
    shipper_out(tmp_path, "replay", "--store", str(db), "--quiet", "--timezone", "UTC", str(HERE / "late-starts.log"))
    stored = {d["@timestamp"]: d["rootcause"]["incident"] for d in _replay_ndjson(tmp_path, HERE / "late-starts.log")}
    (incident,) = [i for i in _causes(db, "--since", since) if i["recovered"] == recovered]
    assert incident["unit"] == unit and incident["first"] < since.replace("Z", "")
    assert incident["id"] == stored[recovered]  # the incident the replay gave the start


SYSLOG = "logs-shipper.syslog-default"


def _es_rootcauses(fake: FakeES) -> dict[tuple[str, str], Any]:
    return {(d["@timestamp"], d["message"]): d["rootcause"] for d in fake.docs(SYSLOG).values() if "rootcause" in d}


@pytest.mark.parametrize("since", [
    "2022-10-24T06:10:00Z",  # gdm's start: its failure is more than a window before --since
    "2022-10-24T06:00:00Z",  # udisks2's start is read (an hour back), but not its failure: it is not written
    "2022-10-24T04:30:00Z",
])
def test_relink_after_a_replay_changes_no_start_s_incident(es: FakeES, tmp_path: Path, since: str) -> None:
    cfg = tmp_path / "shipper.yml"
    cfg.write_text(f"state_dir: {tmp_path / 'state'}\noutput:\n  elasticsearch:\n    retry_initial: 5ms\n"
                   "    retry_max: 20ms\n")
    env = make_env()
    assert run_command("replay", ["--output", "es", "--es-url", es.url, "--config", str(cfg), "--timezone", "UTC",
                                  "--workers", "0", str(HERE / "late-starts.log")], env) == 0, err(env)
    replayed = _es_rootcauses(es)
    assert sum(1 for rc in replayed.values() if rc["role"] == "recovery" and rc.get("incident")) == 2
    env = make_env()
    assert run_command("relink", ["--es-url", es.url, "--config", str(cfg), "--since", since], env) == 0, err(env)
    assert _es_rootcauses(es) == replayed
