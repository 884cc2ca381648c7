"""shipper's Kibana views with the role ``recovery`` (a unit's ``Started ...`` line after it failed:
it carries the incident it ends) and with ``journalctl -o with-unit`` lines (no ``process.name``).

The saved objects of kibana/shipper.ndjson are evaluated here on real documents (replays of
tests/data/incident_bounds/crosslink.log: sendmail's SYSERR at 14:50, its start at 14:53, a SIGKILL at
14:58; the sendmail SYSERR lines of the corpus dumped from a real journal with ``-o with-unit``): their
KQL queries and Lens column filters as Elasticsearch selects (`Kql`, the forms the objects use), the
Lens table as its aggregations compute it (`table`), the color formats as Kibana picks a rule (the last
that matches)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any, Callable, Iterable

import pytest

from shipper.event import Doc, get_path
from shipper.recognise.model import ROLES
from tests.helpers.journal import export_entry, make_journal
from tests.helpers.parse import parse_text, read_lines
from tests.helpers.samples import enrich_all, parse_lines

ROOT = Path(__file__).resolve().parents[2]
CROSSLINK = ROOT / "tests" / "data" / "incident_bounds" / "crosslink.log"
SENDMAIL_EXCERPTS = ROOT / "tests" / "data" / "corpus" / "excerpts" / "sendmail"
TEXT_FIELDS = {"message"}  # match_only_text: a quoted value is a phrase of its words
Obj = dict[str, Any]
Match = Callable[[Doc], bool]


class Kql:
    """A KQL query as a predicate on documents: ``field: *``, ``field: "v"``, ``field: v*``,
    ``field: ("a" or "b")``, ``and``, ``or``, ``not``, parentheses."""

    _TOKEN = re.compile(r'\s*(?:([():])|("(?:[^"\\]|\\.)*")|([^\s():"]+))')

    def __init__(self, query: str) -> None:
        self.tokens = [m.group(m.lastindex or 0) for m in self._TOKEN.finditer(query) if m.lastindex]
        self.match = self._or()
        assert not self.tokens, f"{query!r}: not read: {self.tokens}"

    def _next(self, *words: str) -> bool:
        if self.tokens and self.tokens[0].lower() in words:
            self.tokens.pop(0)
            return True
        return False

    def _or(self) -> Match:
        parts = [self._and()]
        while self._next("or"):
            parts.append(self._and())
        return lambda d: any(p(d) for p in parts)

    def _and(self) -> Match:
        parts = [self._not()]
        while self._next("and"):
            parts.append(self._not())
        return lambda d: all(p(d) for p in parts)

    def _not(self) -> Match:
        if self._next("not"):
            inner = self._not()
            return lambda d: not inner(d)
        if self._next("("):
            inner = self._or()
            assert self._next(")")
            return inner
        field = self.tokens.pop(0)
        assert self._next(":"), field
        values = [self.tokens.pop(0)]
        if values == ["("]:
            values = [self.tokens.pop(0)]
            while self._next("or"):
                values.append(self.tokens.pop(0))
            assert self._next(")")
        return lambda d: any(_value_matches(field, v, d) for v in values)


def _value_matches(field: str, value: str, doc: Doc) -> bool:
    got = get_path(doc, field)
    found = [str(g) for g in (got if isinstance(got, list) else [got]) if g is not None]
    if value == "*":
        return bool(found)
    if value.startswith('"'):
        text = json.loads(value)
        if field in TEXT_FIELDS:
            words = " ".join(re.findall(r"\w+", text.lower()))
            return any(f" {words} " in " " + " ".join(re.findall(r"\w+", f.lower())) + " " for f in found)
        return text in found
    pattern = re.compile(".*".join(map(re.escape, value.split("*"))))
    return any(pattern.fullmatch(f) for f in found)


def test_the_kql_reading_is_that_of_kibana() -> None:
    doc = {"rootcause": {"role": "recovery", "incident": "i1", "signature": "systemd.unit_started"},
           "message": "NOQUEUE: SYSERR(root): opendaemonsocket"}
    assert Kql('rootcause.incident: * and not rootcause.role: "recovery"').match(doc) is False
    assert Kql('rootcause.incident: * and not rootcause.role: "failure"').match(doc) is True
    assert Kql('(process.name: ("a" or "b") or rootcause.signature: systemd.*) and message: "SYSERR"').match(doc)
    assert not Kql('process.name: ("a" or "b") or rootcause.signature: systemd.* and message: "SYSERR2"').match(doc)


# ---------------------------------------------------------------- the saved objects


def _objects() -> dict[str, Obj]:
    lines = (ROOT / "kibana" / "shipper.ndjson").read_text(encoding="utf-8").splitlines()
    return {o["id"]: o for o in map(json.loads, lines)}


def _search(oid: str) -> tuple[Obj, str]:
    attrs = _objects()[oid]["attributes"]
    return attrs, json.loads(attrs["kibanaSavedObjectMeta"]["searchSourceJSON"])["query"]["query"]


def _panel(pid: str) -> Obj:
    panels = json.loads(_objects()["shipper-root-causes-dashboard"]["attributes"]["panelsJSON"])
    return next(p for p in panels if p["panelIndex"] == pid)


def _lens(pid: str) -> tuple[str, Obj, Obj]:
    """(query, layer, visualization) of a Lens panel."""
    attrs = _panel(pid)["embeddableConfig"]["attributes"]
    (layer,) = attrs["state"]["datasourceStates"]["formBased"]["layers"].values()
    return attrs["state"]["query"]["query"], layer, attrs["state"]["visualization"]


@pytest.fixture(scope="module")
def docs() -> list[Doc]:
    return enrich_all(parse_lines(CROSSLINK.read_text().splitlines(), year=2024))


def _ids(docs: list[Doc]) -> dict[str, str]:
    """signature -> incident of the crosslink replay (each signature is of one incident there but the failures')."""
    return {get_path(d, "rootcause.signature"): get_path(d, "rootcause.incident") for d in docs}


def test_incidents_over_time_counts_an_incident_under_its_causes_and_failures_only(docs: list[Doc]) -> None:
    query, layer, _ = _lens("incidents-over-time")
    split = layer["columns"]["signature"]["sourceField"]
    counted: dict[str, set[str]] = {}
    for doc in filter(Kql(query).match, docs):
        counted.setdefault(get_path(doc, split), set()).add(get_path(doc, "rootcause.incident"))
    errors = _ids(docs)["sendmail.bind_address_in_use"]
    assert get_path(docs[4], "rootcause.role") == "recovery" and get_path(docs[4], "rootcause.incident") == errors
    assert "systemd.unit_started" not in counted
    assert {s for s, ids in counted.items() if errors in ids} == {"sendmail.bind_address_in_use",
                                                                  "sendmail.socket_failed"}
    assert sum(map(len, counted.values())) == 2 + 2 * 3  # the errors' 2 signatures, each failure's 2


def table(docs: Iterable[Doc], query: str, layer: Obj) -> list[dict[str, Any]]:
    """The rows of a Lens table of one ``terms`` column and metrics (``max``, ``last_value``, each with
    its filter), as the aggregations compute them: label -> value, in the terms' order."""
    columns = layer["columns"]
    ((key, terms),) = [(c, col) for c, col in columns.items() if col["isBucketed"]]
    groups: dict[str, list[Doc]] = {}
    for doc in filter(Kql(query).match, docs):
        groups.setdefault(get_path(doc, terms["sourceField"]), []).append(doc)
    rows = []
    for value, members in groups.items():
        row: dict[str, Any] = {terms["label"]: value}
        for cid, col in columns.items():
            if cid == key:
                continue
            kept = [d for d in members if "filter" not in col or Kql(col["filter"]["query"]).match(d)]
            if col["operationType"] == "max":
                row[cid] = max((get_path(d, col["sourceField"]) for d in kept), default=None)
            else:
                assert col["operationType"] == "last_value"
                last = max(kept, key=lambda d: get_path(d, col["params"]["sortField"]), default=None)
                row[cid] = get_path(last, col["sourceField"]) if last else None
        rows.append(row)
    order = terms["params"]["orderBy"]["columnId"]
    rows.sort(key=lambda r: r[order] or "", reverse=terms["params"]["orderDirection"] == "desc")
    return [{columns[c]["label"] if c in columns else c: v for c, v in r.items()} for r in rows]


def test_latest_incidents_says_when_the_unit_runs_again(docs: list[Doc]) -> None:
    query, layer, vis = _lens("latest-incidents")
    rows = {r["Incident"]: r for r in table(docs, query, layer)}
    ids = _ids(docs)
    errors = rows[ids["sendmail.bind_address_in_use"]]
    assert ids["systemd.unit_started"] == errors["Incident"]  # the start ended the errors' incident
    assert errors["Last event"] == "2024-08-30T14:50:00.000000Z"  # its errors, not the start
    assert errors["Running again"] == "2024-08-30T14:53:00.000000Z"
    assert errors["Unit"] == "sendmail.service" and errors["Cause"] is None
    others = [r for i, r in rows.items() if i != errors["Incident"]]
    assert len(others) == 3 and all(r["Running again"] is None for r in others)
    assert [r["Last event"] for r in others] == ["2024-08-30T14:59:00.000000Z", "2024-08-30T14:58:00.000000Z",
                                                "2024-08-30T14:52:00.000000Z"]
    assert [c["columnId"] for c in vis["columns"]][:3] == ["incident", "last", "running"]
    assert vis["sorting"] == {"columnId": "last", "direction": "desc"}


def _color(fmt: Obj, value: str) -> dict[str, str] | None:
    """The colors Kibana's color format gives a string (`ColorFormat.findColorRuleForVal`: the last match)."""
    hits = [c for c in fmt["params"]["colors"] if re.search(c["regex"], value)]
    return {"text": hits[-1]["text"], "background": hits[-1]["background"]} if hits else None


def test_a_start_again_is_not_styled_as_a_problem(docs: list[Doc]) -> None:
    formats = json.loads(_objects()["shipper-logs"]["attributes"]["fieldFormatMap"])
    problem = _color(formats["rootcause.hint"], "anything")
    styled = set()
    for doc in docs:
        role, hint = get_path(doc, "rootcause.role"), get_path(doc, "rootcause.hint")
        styled.add((role, _color(formats["rootcause.hint"], hint) == problem,
                    _color(formats["rootcause.role"], role) == problem))
    assert styled == {("cause", True, True), ("failure", True, True), ("recovery", False, False)}
    assert _color(formats["rootcause.role"], "summary") == problem


def test_the_root_causes_search_and_dashboard_say_what_recovery_is() -> None:
    attrs, query = _search("shipper-root-causes")
    assert query == "rootcause.signature: *"  # the starts stay: they say when the unit runs again
    assert "rootcause.role" in attrs["columns"]
    for role in ("failure", "cause", "summary", "recovery"):
        assert f"({role}" in attrs["description"], role
    text = _panel("how-to-read")["embeddableConfig"]["savedVis"]["params"]["markdown"]
    assert "`role: recovery`" in text and "`role: summary`" in text
    assert "every signature it involves (its cause and its failure)" not in text
    assert "Running again" in (ROOT / "kibana" / "README.md").read_text()


# ---------------------------------------------------------------- sendmail SYSERR and with-unit lines


def _syserr_docs() -> list[Doc]:
    return [d for p in sorted(SENDMAIL_EXCERPTS.iterdir()) for d in parse_text("syslog", read_lines(p), year=2017)
            if "SYSERR" in d.get("message", "")]


@pytest.fixture(scope="module")
def with_unit(tmp_path_factory: pytest.TempPathFactory) -> list[Doc]:
    """The corpus's SYSERR lines as sendmail.service logged them into a journal (a second apart: some
    lines have no time), read from ``journalctl -o with-unit`` (the tag is the unit:
    ``gorp sendmail.service[24097]: ...``)."""
    base = tmp_path_factory.mktemp("k-with-unit")
    export = b"".join(export_entry({
        "_HOSTNAME": get_path(d, "host.name", "gorp"), "PRIORITY": "3", "_PID": str(get_path(d, "process.pid", 1)),
        "SYSLOG_IDENTIFIER": get_path(d, "process.name", "sendmail"), "MESSAGE": d["message"],
        "_SYSTEMD_UNIT": "sendmail.service"}, seq=seq) for seq, d in enumerate(_syserr_docs()))
    journal = make_journal(base / "journal", export)
    dump = base / "with-unit.txt"
    dump.write_text(subprocess.run(["journalctl", "--file", str(journal), "--utc", "-o", "with-unit"], check=True,
                                   capture_output=True, text=True, env={"TZ": "UTC", "SYSTEMD_COLORS": "0"}).stdout)
    return enrich_all(parse_text("syslog", read_lines(dump), year=None))


def test_the_sendmail_search_selects_with_unit_lines(with_unit: list[Doc]) -> None:
    _, query = _search("shipper-sendmail-syserr")
    syserr = [d for d in with_unit if "SYSERR" in d.get("message", "")]
    assert len(syserr) == len(_syserr_docs()) == 50
    assert {get_path(d, "process.name") for d in syserr} == {None}
    assert {get_path(d, "systemd.unit") for d in syserr} == {"sendmail.service"}
    assert [d["message"] for d in syserr if not Kql(query).match(d)] == []
    assert not Kql(query).match({"systemd": {"unit": "postfix.service"}, "message": "SYSERR(root): x"})
    assert not Kql(query).match({"systemd": {"unit": "sendmail.service"}, "message": "starting daemon"})


def test_the_sendmail_search_still_selects_the_syslog_lines() -> None:
    _, query = _search("shipper-sendmail-syserr")
    docs = enrich_all(_syserr_docs())
    assert [d["message"] for d in docs if not Kql(query).match(d)] == []
    # (a typo in the corpus's source post, test_kibana_sendmail_search.py: found by its signature)
    assert [get_path(d, "rootcause.signature") for d in docs if get_path(d, "process.name") == "sm-mat"] == [
        "sendmail.syserr"]


# ---------------------------------------------------------------- docs/fields.md


def test_fields_md_documents_recovery_and_with_unit_lines() -> None:
    text = (ROOT / "docs" / "fields.md").read_text()
    roles = re.search(r"`rootcause\.role`\s*\(([^)]*)\)", text)
    assert roles and {"cause", "failure", "summary", "recovery"} <= set(re.findall(r"`(\w+)`", roles.group(1)))
    assert set(re.findall(r"`(\w+)`", roles.group(1))) <= set(ROLES)
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `([\w.]+)` \| \w+ \| (.*) \|$", text, re.M)}
    assert "journalctl -o with-unit" in rows["systemd.unit"] and "with-unit" in rows["systemd.user_unit"]
    assert "absent on a `journalctl -o with-unit` line" in rows["process.name"]
    assert "`init.scope`: `systemd`" in rows["process.name"]
