"""`causes` links at read time: a failure and its cause stored by separate replays make one
incident, as one replay of both does, and `--since`/`--until` show incidents whole.

Real replays through the CLI into real SQLite stores; the corpus files are split into the lines
of systemd (a /var/log/messages) and the rest (the program's own log), replayed apart and together.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from helpers.samples import CORPUS, SEED, parse_paths
from shipper.enrich import hints
from shipper.enrich.incidents import Incidents
from shipper.enrich.recognise import Recognise
from shipper.enrich.relink import _NO_CAUSE, DEFAULT_WINDOW, _Unlinker
from shipper.recognise.rules import load_rules
from shipper.report.causes import build_incidents, linked_incidents, to_json
from shipper.report.lines import incident_lines
from shipper.sinks.local import LocalStore
from tests.helpers.cli import shipper_out

DEMO = Path(__file__).resolve().parents[2] / "demo" / "logs"



def _run(home: Path, *argv: str) -> str:
    return shipper_out(home, *argv)


def _replay(db: Path, *files: Path, year: int = 2017) -> None:
    _run(db.parent, "replay", "--store", str(db), "--year", str(year), "--timezone", "UTC", *map(str, files))


def _causes(db: Path, *window: str) -> dict[str, Any]:
    return dict(json.loads(_run(db.parent, "causes", "--store", str(db), "--format", "json", *window)))


def test_the_demo_replayed_apart_links_as_one_replay(tmp_path: Path) -> None:
    apart, one = tmp_path / "apart.db", tmp_path / "one.db"
    _replay(apart, DEMO / "maillog")
    _replay(apart, DEMO / "messages")
    _replay(one, DEMO / "maillog", DEMO / "messages")
    assert _causes(apart) == _causes(one)
    (incident,) = _causes(apart)["incidents"]
    assert incident["unit"] == "sendmail.service" and incident["failure"]["exit_code"] == 71
    assert incident["causes"][0]["signature"] == "sendmail.bind_address_in_use" and incident["events"] == 10
    _replay(apart, DEMO / "maillog", DEMO / "messages")  # all duplicates: nothing changes
    assert _causes(apart) == _causes(one)


@pytest.mark.parametrize("window", [
    ("--since", "2017-08-30T14:56:05Z"),  # after the causes: the failure comes with them
    ("--until", "2017-08-30T14:56:00Z"),  # before the failure: the causes come with it
    ("--since", "2017-08-30T14:55:50Z", "--until", "2017-08-30T14:55:55Z"),
])
def test_a_window_shows_each_incident_whole(tmp_path: Path, window: tuple[str, ...]) -> None:
    db = tmp_path / "one.db"
    _replay(db, DEMO / "maillog", DEMO / "messages")
    whole = _causes(db)["incidents"]
    assert _causes(db, *window)["incidents"] == whole


def test_a_window_leaves_out_the_incidents_it_does_not_reach(tmp_path: Path) -> None:
    db = tmp_path / "one.db"
    _replay(db, SEED / "messages-sendmail.log", SEED / "elasticsearch-bootstrap.log")
    units = [i["unit"] for i in _causes(db)["incidents"]]
    assert units == ["sendmail.service", "elasticsearch.service"]
    assert [i["unit"] for i in _causes(db, "--since", "2017-08-30T14:56:05Z")["incidents"]] == ["sendmail.service"]
    assert [i["unit"] for i in _causes(db, "--until", "2017-08-30T14:55:00Z")["incidents"]] == ["elasticsearch.service"]


def _offsets(db: Path, role: str) -> set[int]:
    store = LocalStore(db, read_only=True)
    try:
        return {d["log"]["offset"] for d in store.iter_docs(only_recognised=True) if d["rootcause"].get("role") == role}
    finally:
        store.close()


def _split(source: Path, into: Path) -> tuple[Path, Path]:
    """``source`` as two files: the lines of its causes (as a program's own log) and the rest
    (failures, as /var/log/messages or a status block; the lines around them)."""
    into.mkdir()
    _replay(into / "whole.db", source, year=2020)
    causes = _offsets(into / "whole.db", "cause")
    own, rest = into / "own.log", into / "messages"
    with source.open("rb") as f, own.open("wb") as a, rest.open("wb") as b:
        offset = 0
        for line in f:
            (a if offset in causes else b).write(line)
            offset += len(line)
    return own, rest


def _stored(db: Path) -> dict[str, Any]:
    store = LocalStore(db, read_only=True)
    try:
        return to_json(build_incidents(store.iter_docs(only_recognised=True)))
    finally:
        store.close()


LINKED = [  # files with a failure and its cause that a replay apart leaves unlinked
    SEED / "messages-sendmail.log",
    *(CORPUS / "excerpts/elasticsearch" / name for name in (
        "es-k8s-logging-ek.log", "es-tye-prefixed-console.log", "es7-docker-two-failures-transport-ssl.log",
        "es7-journalctl-korean-locale-centos8.log", "es7-two-failures-memlock-discovery.log",
        "es8-journalctl-systemd-entrypoint-status78-CONFIG.log")),
    *(CORPUS / "excerpts/sendmail" / name for name in (
        "openemm-sendmail-8.14.2-maillog.log", "rhel6-sendmail-8.14.4-maillog.log",
        "ubuntu-13.04-sm-mta-8.14.4-mail.info.log", "ubuntu-sm-mta-8.14.3-MTA-v4-wedged.log")),
]


@pytest.mark.parametrize("source", LINKED, ids=lambda p: p.name)
def test_corpus_files_split_and_replayed_apart_link_as_one_replay(tmp_path: Path, source: Path) -> None:
    own, rest = _split(source, tmp_path / "split")
    apart, one = tmp_path / "apart.db", tmp_path / "one.db"
    _replay(apart, own, year=2020)
    _replay(apart, rest, year=2020)
    _replay(one, own, rest, year=2020)
    together = _causes(one)
    assert any(i["failure"] and i["causes"] for i in together["incidents"])
    assert _stored(apart)["incidents"] != together["incidents"]  # as stored, apart, they are not linked
    assert _causes(apart) == together


ALL = sorted(p for p in (CORPUS / "excerpts").glob("*/*") if p.suffix in (".log", ".txt")) + sorted(SEED.glob("*.log"))


@pytest.mark.parametrize("source", ALL, ids=lambda p: p.name)
def test_linking_again_what_one_replay_stored_changes_nothing(tmp_path: Path, source: Path) -> None:
    """Read-time linking of a store written by one replay gives the links that replay stored:
    taking the documents back to their state before linking loses nothing."""
    db = tmp_path / "one.db"
    _replay(db, source, year=2020)
    store = LocalStore(db, read_only=True)
    try:
        stored = to_json(build_incidents(store.iter_docs(only_recognised=True)))
        relinked = to_json(linked_incidents(store, since=None, until=None))
    finally:
        store.close()
    assert relinked == stored


def test_the_report_lines_follow_the_links_read_time_makes(tmp_path: Path) -> None:
    db = tmp_path / "apart.db"
    _replay(db, DEMO / "maillog")
    _replay(db, DEMO / "messages")
    store = LocalStore(db, read_only=True)
    try:
        report = to_json(linked_incidents(store, since=None, until=None))
        (incident,) = report["incidents"]
        rows = incident_lines(store, report["incidents"])[incident["id"]]
    finally:
        store.close()
    assert [row[5] for row in rows] == ["cause"] * 7 + ["failure"] * 3


def test_the_no_cause_preamble_comes_off_whatever_the_unit_and_window() -> None:
    """`_NO_CAUSE` reads back what `hints.no_cause_hint` wrote, for every unit's ``look_at``."""
    rules = load_rules()
    for look_at in [None, *(u.look_at for u in rules.units if u.look_at)]:
        for unit in (None, "sendmail.service", "user@1000.service"):
            for window in (DEFAULT_WINDOW, 90.0):
                own = "its own hint. With a second sentence."
                text = hints.no_cause_hint(unit, window, look_at, own, user=unit is not None)
                found = _NO_CAUSE.match(text)
                assert found is not None and text[found.end():] == own


def _event(n: int, at: float, role: str, **fields: Any) -> dict[str, Any]:
    """A recognised event as `Recognise` leaves it, ``at`` seconds after 14:00:00."""
    signature = {"failure": "systemd.process_exited", "cause": "sendmail.bind_address_in_use"}[role]
    stamp = f"2017-08-30T{14 + int(at) // 3600:02d}:{int(at) % 3600 // 60:02d}:{int(at) % 60:02d}.000000Z"
    rc = {"signature": signature, "role": role, "title": role, "hint": f"{role} {n}", "remediation": "", "unit": "sendmail.service"}
    return {"@timestamp": stamp, "event": {"id": f"e{n}"}, "message": role, "rootcause": rc, **fields}


_GORP = {"host": {"name": "gorp"}}
STALE = {  # an earlier batch whose incident is more than a window old, then a batch to link
    "a failure's PID": ([_event(0, 0, "failure", process={"pid": 700})],  # a status block's "Main PID: 700"
                        [_event(1, 1000, "cause", process={"name": "sendmail", "pid": 800}, **_GORP),
                         _event(2, 1001, "failure", process={"pid": 700}, **_GORP)]),
    "a unit's cause": ([_event(0, 0, "cause", process={"name": "sendmail", "pid": 5}, **_GORP)],
                       [_event(1, 1000, "failure", process={"pid": 700}),
                        _event(2, 1001, "cause", process={"name": "sendmail", "pid": 700}, **_GORP),
                        _event(3, 1002, "failure", process={"name": "systemd", "pid": 1}, **_GORP)]),
}


@pytest.mark.parametrize("name", STALE)
def test_what_is_older_than_a_window_does_not_change_the_links(name: str) -> None:
    """`Incidents` drops old incidents only after each batch: one held until then must not change
    how the next batch links (so linking may start after any gap of a window, and a replay's links
    do not depend on where its batches end)."""
    before, batch = STALE[name]
    after_old = copy.deepcopy(batch)
    linker = Incidents(600.0)
    linker.enrich(copy.deepcopy(before))
    linker.enrich(after_old)
    alone = copy.deepcopy(batch)
    Incidents(600.0).enrich(alone)
    assert [d["rootcause"] for d in after_old] == [d["rootcause"] for d in alone]
    assert "cause" in alone[-1]["rootcause"]


@pytest.mark.parametrize("source", ALL, ids=lambda p: p.name)
def test_unlinking_gives_back_what_recognition_wrote(source: Path) -> None:
    """Each recognised event, linked and then unlinked, is as `Recognise` left it: a failure's own
    hint and remediation come back, also where a cause had replaced them (a status block's lines
    are recognised again as lines of their unit's block)."""
    rules = load_rules()
    docs = Recognise(rules).enrich(parse_paths([source], timezone="UTC", year=2017))
    before = copy.deepcopy(docs)
    Incidents(DEFAULT_WINDOW, rules).enrich(docs)
    unlink = _Unlinker(rules)
    pairs = [(b["rootcause"], unlink(copy.deepcopy(d))["rootcause"]) for b, d in zip(before, docs) if "rootcause" in b]
    assert [own for own, _ in pairs] == [back for _, back in pairs]
