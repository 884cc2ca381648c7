"""Builds shipper's Kibana saved objects: ``kibana/shipper.ndjson`` and the wheel's copy.

Run ``python kibana/build.py`` after changing anything here; a test fails when the files and this
script disagree. The objects are written as Kibana exports them (one object per line, the
``*JSON`` attributes as JSON strings, ``coreMigrationVersion``/``typeMigrationVersion`` set so
Kibana migrates them on import), with stable ids: importing again overwrites, never duplicates.
The dashboard's charts are Lens panels stored by value; its table of hints is the saved search
"Root causes" (a hint is text, which Lens cannot aggregate).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `python kibana/build.py` from a checkout: the signatures come from shipper

from shipper.enrich.hints import TEXT, pieces  # noqa: E402
from shipper.enrich.sendmail import sendmail_idents  # noqa: E402
from shipper.recognise.rules import load_rules  # noqa: E402

OUTPUTS = (ROOT / "kibana" / "shipper.ndjson", ROOT / "shipper" / "assets" / "kibana" / "shipper.ndjson")

DATA_VIEW = "shipper-logs"
CORE = "8.8.0"
PANEL_VERSION = "8.9.0"  # the Lens state below is the 8.9+ form (formBased datasource)
TYPE_VERSIONS = {"index-pattern": "8.0.0", "search": "8.0.0", "dashboard": "8.9.0"}

Obj = dict[str, Any]
RULES = load_rules()


def saved_object(kind: str, oid: str, attributes: Obj, references: list[Obj]) -> Obj:
    return {
        "attributes": attributes,
        "coreMigrationVersion": CORE,
        "id": oid,
        "managed": False,
        "references": references,
        "type": kind,
        "typeMigrationVersion": TYPE_VERSIONS[kind],
    }


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# ---------------------------------------------------------------- data view

AMBER = {"text": "#3f2a00", "background": "#fdf1cf"}  # a problem: a failure, its cause, a summary
GREEN = {"text": "#0b3d20", "background": "#d9f2e3"}  # no problem: the unit runs again, the host booted (roles recovery, boot)


def js_regex(text: str) -> str:
    """``text`` as a regular expression that JavaScript (Kibana's color format) and Python read alike."""
    return re.sub(r"[\\^$.*+?()\[\]{}|/]", r"\\\g<0>", text)


def recovery_hint_regexes() -> list[str]:
    """For each recovery (or boot) signature, the longest text of its hint that no log value fills
    in: a hint that has it says the unit runs again (or the host booted), not what went wrong."""
    return sorted({js_regex(max((t for how, t in pieces(s.hint) if how == TEXT), key=len))
                   for s in RULES.signatures if s.role in ("recovery", "boot")})


def color_format(rules: list[tuple[str, dict[str, str]]]) -> Obj:
    """Kibana's color format for a string field: the LAST rule whose regex matches a value colors it."""
    return {"id": "color", "params": {"fieldType": "string", "colors": [
        {"range": "-Infinity:Infinity", "regex": regex, **colors} for regex, colors in rules]}}


CAUSE_HINT_FORMAT = color_format([(".", AMBER)])
HINT_FORMAT = color_format([(".", AMBER), *((r, GREEN) for r in recovery_hint_regexes())])
ROLE_FORMAT = color_format([("^(cause|failure|summary)$", AMBER), ("^(recovery|boot)$", GREEN)])
DOCS_FORMAT = {
    "id": "url",
    "params": {"type": "a", "urlTemplate": "{{value}}", "labelTemplate": "{{value}}", "openLinkInNewTab": True},
}
LABELS = {
    "rootcause.signature": "Signature",
    "rootcause.role": "Role",
    "rootcause.hint": "Hint",
    "rootcause.remediation": "Remediation",
    "rootcause.docs": "Docs",
    "rootcause.incident": "Incident",
    "rootcause.cause.signature": "Cause",
    "rootcause.cause.message": "Cause line",
    "rootcause.cause.hint": "Cause hint",
    "rootcause.cause.count": "Cause repeated",
    "process.exit_code_explained": "Exit status",
    "rootcause.unit": "Unit",
    "systemd.unit": "systemd unit",
    "systemd.result": "Result",
}


def data_view() -> Obj:
    return saved_object("index-pattern", DATA_VIEW, {
        "allowNoIndex": True,
        "fieldAttrs": dumps({field: {"customLabel": label} for field, label in LABELS.items()}),
        "fieldFormatMap": dumps({
            "rootcause.hint": HINT_FORMAT,
            "rootcause.cause.hint": CAUSE_HINT_FORMAT,
            "rootcause.role": ROLE_FORMAT,
            "rootcause.docs": DOCS_FORMAT,
        }),
        "fields": "[]",
        "name": "shipper logs",
        "runtimeFieldMap": "{}",
        "sourceFilters": "[]",
        # every data stream shipper writes (logs-shipper.<dataset>-<namespace>) but the dead letter
        "timeFieldName": "@timestamp",
        "title": "logs-shipper.*-*,-logs-shipper.deadletter-*",
        "typeMeta": "{}",
    }, [])


# ---------------------------------------------------------------- saved searches

INDEX_REF = "kibanaSavedObjectMeta.searchSourceJSON.index"
# The process names sendmail logs under (sendmail, Debian's sm-mta, ...) and its units (what a
# `journalctl -o with-unit` line names instead: it has no process.name): the signatures' lists.
SENDMAIL_NAMES = sorted(sendmail_idents(RULES))
SENDMAIL_UNITS = sorted(u.unit for f in RULES.families if f.name == "sendmail" for u in f.units)


def sendmail_query() -> str:
    names = " or ".join(map(json.dumps, SENDMAIL_NAMES))
    units = "".join(f" or systemd.unit: {json.dumps(u)}" for u in SENDMAIL_UNITS)
    return f'(process.name: ({names}){units} or rootcause.signature: sendmail.*) and message: "SYSERR"'


SEARCHES: list[tuple[str, str, str, str, list[str]]] = [
    (
        "shipper-root-causes", "Root causes",
        "Every recognised line, with its role and hint: the failures (failure), the errors that caused them "
        "(cause), the lines that sum several up (summary), and the starts of a unit that had failed, which "
        "end its incident (recovery: running again), and in text logs the kernel's banner at boot, which ends "
        "the host's incidents (boot).",
        "rootcause.signature: *",
        ["host.name", "rootcause.unit", "rootcause.role", "rootcause.signature", "message", "rootcause.hint"],
    ),
    (
        "shipper-unit-failures", "Unit failures",
        "systemd units that failed, with the exit status explained and the cause shipper linked to it.",
        'rootcause.role: "failure" and rootcause.signature: systemd.*',
        ["host.name", "rootcause.unit", "systemd.result", "process.exit_code_explained",
         "rootcause.cause.signature", "rootcause.cause.count", "rootcause.hint"],
    ),
    (
        "shipper-sendmail-syserr", "sendmail SYSERR",
        f"Every sendmail SYSERR line (logged as {', '.join(SENDMAIL_NAMES[:-1])} or {SENDMAIL_NAMES[-1]}, "
        f"or by {' or '.join(SENDMAIL_UNITS)} in a `journalctl -o with-unit` dump), "
        "recognised or not, with the daemon and the hint when there is one.",
        sendmail_query(),
        ["host.name", "sendmail.daemon", "rootcause.signature", "error.message", "message", "rootcause.hint"],
    ),
    (
        "shipper-es-bootstrap-checks", "Elasticsearch bootstrap checks",
        "Elasticsearch nodes that refused to start: which bootstrap check failed, the value found and the value required.",
        "rootcause.signature: elasticsearch.bootstrap*",
        ["host.name", "elasticsearch.node.name", "elasticsearch.bootstrap.check",
         "elasticsearch.bootstrap.current_value", "elasticsearch.bootstrap.required_value", "rootcause.hint"],
    ),
]


def search_source(query: str, **extra: Any) -> str:
    return dumps({"query": {"query": query, "language": "kuery"}, "filter": [], **extra})


def saved_search(oid: str, title: str, description: str, query: str, columns: list[str]) -> Obj:
    return saved_object("search", oid, {
        "columns": columns,
        "description": description,
        "hits": 0,
        "kibanaSavedObjectMeta": {"searchSourceJSON": search_source(query, highlightAll=True, indexRefName=INDEX_REF)},
        "sort": [["@timestamp", "desc"]],
        "title": title,
        "version": 1,
    }, [{"id": DATA_VIEW, "name": INDEX_REF, "type": "index-pattern"}])


# ---------------------------------------------------------------- Lens columns

def count_incidents(label: str = "Incidents") -> Obj:
    return {"customLabel": True, "dataType": "number", "isBucketed": False, "label": label,
            "operationType": "unique_count", "params": {"emptyAsNull": True}, "scale": "ratio",
            "sourceField": "rootcause.incident"}


def top_values(field: str, label: str, order_by: str, size: int) -> Obj:
    return {"customLabel": True, "dataType": "string", "isBucketed": True, "label": label,
            "operationType": "terms", "scale": "ordinal", "sourceField": field,
            "params": {"size": size, "orderBy": {"type": "column", "columnId": order_by}, "orderDirection": "desc",
                       "otherBucket": False, "missingBucket": False, "parentFormat": {"id": "terms"},
                       "include": [], "exclude": [], "includeIsRegex": False, "excludeIsRegex": False}}


def over_time() -> Obj:
    return {"dataType": "date", "isBucketed": True, "label": "@timestamp", "operationType": "date_histogram",
            "scale": "interval", "sourceField": "@timestamp",
            "params": {"interval": "auto", "includeEmptyRows": True, "dropPartials": False}}


def latest(field: str, label: str, data_type: str = "string") -> Obj:
    return {"customLabel": True, "dataType": data_type, "isBucketed": False, "label": label,
            "operationType": "last_value", "scale": "ratio" if data_type == "number" else "ordinal",
            "sourceField": field, "filter": {"language": "kuery", "query": f"{field}: *"},
            "params": {"sortField": "@timestamp", "showArrayValues": False}}


def last_seen(label: str, query: str) -> Obj:
    """The time of the last event that ``query`` selects (a column filter: empty when none does)."""
    return {"customLabel": True, "dataType": "date", "isBucketed": False, "label": label,
            "operationType": "max", "scale": "ratio", "sourceField": "@timestamp", "params": {"emptyAsNull": True},
            "filter": {"language": "kuery", "query": query}}


# ---------------------------------------------------------------- dashboard panels

def lens_panel(pid: str, grid: tuple[int, int, int, int], title: str, vis_type: str, query: str,
               columns: dict[str, Obj], visualization: Obj) -> Obj:
    layer = f"{pid}-layer"
    if vis_type == "lnsDatatable":
        visualization = {**visualization, "layerId": layer}
    else:
        visualization = {**visualization, "layers": [{**visualization["layers"][0], "layerId": layer}]}
    x, y, w, h = grid
    return {
        "type": "lens",
        "panelIndex": pid,
        "gridData": {"x": x, "y": y, "w": w, "h": h, "i": pid},
        "version": PANEL_VERSION,
        "title": title,
        "embeddableConfig": {
            "enhancements": {},
            "hidePanelTitles": False,
            "attributes": {
                "title": title,
                "description": "",
                "type": "lens",
                "visualizationType": vis_type,
                "references": [{"type": "index-pattern", "id": DATA_VIEW, "name": f"indexpattern-datasource-layer-{layer}"}],
                "state": {
                    "adHocDataViews": {},
                    "internalReferences": [],
                    "filters": [],
                    "query": {"query": query, "language": "kuery"},
                    "datasourceStates": {
                        "formBased": {"layers": {layer: {"columns": columns, "columnOrder": list(columns),
                                                          "incompleteColumns": {}}}},
                        "textBased": {"layers": {}},
                    },
                    "visualization": visualization,
                },
            },
        },
    }


def xy(series: str, x_accessor: str, accessor: str, split: str | None = None, legend: bool = True) -> Obj:
    layer: Obj = {"layerType": "data", "seriesType": series, "xAccessor": x_accessor, "accessors": [accessor],
                  "yConfig": [{"forAccessor": accessor, "axisMode": "left"}],
                  "palette": {"type": "palette", "name": "default"}}
    if split:
        layer["splitAccessor"] = split
    return {"preferredSeriesType": series, "valueLabels": "hide", "fittingFunction": "None",
            "legend": {"isVisible": legend, "position": "right", "showSingleSeries": True, "shouldTruncate": True,
                       "maxLines": 1},
            "axisTitlesVisibilitySettings": {"x": False, "yLeft": True, "yRight": True},
            "tickLabelsVisibilitySettings": {"x": True, "yLeft": True, "yRight": True},
            "gridlinesVisibilitySettings": {"x": True, "yLeft": True, "yRight": True},
            "layers": [layer]}


RECOVERY = 'rootcause.role: "recovery"'
HOW_TO_READ = """\
### How to read this dashboard

shipper tags each failure it recognises (`rootcause.role: failure`: a unit that failed, a daemon that \
gave up), the errors that caused it (`role: cause`) and lines that sum several up (`role: summary`: \
Elasticsearch's "bootstrap checks failed"), and groups them into one **incident** \
(`rootcause.incident`). The failure carries its cause (`rootcause.cause.*`: the line, how often it \
repeated, from when to when) and a **hint**: the likely cause in order, how to tell, and the fix. \
When the unit starts again (`role: recovery`: systemd's `Started ...` line of a unit that failed, or \
logged errors, in the hour before) its incident ends, and carries the start; a later failure is a new incident. \
In a text log the kernel's banner at boot (`role: boot`) ends the host's incidents.

* **Incidents over time** - each bar counts incidents; an incident counts once under every signature \
of its causes and failures (not under its start again).
* **Top failing units / hosts** - where it happens most.
* **Latest incidents** - one row per incident: its last event (its start again aside), when the unit was running \
again (empty: no start seen), the failure, the cause shipper linked to it, how often the cause \
repeated, the exit status explained.
* **Recognised lines and their hints** - every recognised line with its role and hint: failures, causes \
and summaries in amber, starts again and boots in green (open a row for the remediation and docs).

Looking at an old archive? Widen the time range: the default is the last 7 days.
Discover has the saved searches *Root causes*, *Unit failures*, *sendmail SYSERR* and \
*Elasticsearch bootstrap checks*. No cluster at hand: `shipper report -o report.html` writes the same \
incidents as one HTML page.
"""


def markdown_panel(pid: str, grid: tuple[int, int, int, int], text: str) -> Obj:
    x, y, w, h = grid
    return {
        "type": "visualization",
        "panelIndex": pid,
        "gridData": {"x": x, "y": y, "w": w, "h": h, "i": pid},
        "version": PANEL_VERSION,
        "title": "How to read this dashboard",
        "embeddableConfig": {
            "enhancements": {},
            "hidePanelTitles": True,
            "savedVis": {
                "id": "", "title": "How to read this dashboard", "description": "", "type": "markdown",
                "params": {"fontSize": 12, "openLinksInNewTab": False, "markdown": text},
                "uiState": {},
                "data": {"aggs": [], "searchSource": {"query": {"query": "", "language": "kuery"}, "filter": []}},
            },
        },
    }


def search_panel(pid: str, grid: tuple[int, int, int, int], title: str) -> Obj:
    x, y, w, h = grid
    return {"type": "search", "panelIndex": pid, "gridData": {"x": x, "y": y, "w": w, "h": h, "i": pid},
            "version": PANEL_VERSION, "title": title, "panelRefName": f"panel_{pid}",
            "embeddableConfig": {"enhancements": {}}}


def panels() -> list[Obj]:
    return [
        markdown_panel("how-to-read", (0, 0, 16, 16), HOW_TO_READ),
        lens_panel("incidents-over-time", (16, 0, 32, 16), "Incidents over time, by signature", "lnsXY",
                   f"rootcause.incident: * and not {RECOVERY}",
                   {"time": over_time(), "signature": top_values("rootcause.signature", "Signature", "incidents", 10),
                    "incidents": count_incidents()},
                   xy("bar_stacked", "time", "incidents", split="signature")),
        lens_panel("top-units", (0, 16, 24, 12), "Top failing units", "lnsXY", 'rootcause.role: "failure"',
                   {"unit": top_values("rootcause.unit", "Unit", "incidents", 10), "incidents": count_incidents()},
                   xy("bar_horizontal", "unit", "incidents", legend=False)),
        lens_panel("top-hosts", (24, 16, 24, 12), "Top hosts", "lnsXY", "rootcause.incident: *",
                   {"host": top_values("host.name", "Host", "incidents", 10), "incidents": count_incidents()},
                   xy("bar_horizontal", "host", "incidents", legend=False)),
        lens_panel("latest-incidents", (0, 28, 48, 16), "Latest incidents", "lnsDatatable", "rootcause.incident: *",
                   {"incident": top_values("rootcause.incident", "Incident", "last", 20),
                    "last": last_seen("Last event", f"not {RECOVERY}"),
                    "running": last_seen("Running again", RECOVERY),
                    "host": latest("host.name", "Host"),
                    "unit": latest("rootcause.unit", "Unit"),
                    "failure": {**latest("rootcause.signature", "Failure"),
                                "filter": {"language": "kuery", "query": 'rootcause.role: "failure"'}},
                    "cause": latest("rootcause.cause.signature", "Cause"),
                    "repeated": latest("rootcause.cause.count", "Cause repeated", "number"),
                    "exit": latest("process.exit_code_explained", "Exit status")},
                   {"layerType": "data", "rowHeight": "auto", "headerRowHeight": "auto",
                    "sorting": {"columnId": "last", "direction": "desc"},
                    "columns": [{"columnId": c, "isTransposed": False} for c in
                                ("incident", "last", "running", "host", "unit", "failure", "cause", "repeated",
                                 "exit")]}),
        search_panel("lines-with-hints", (0, 44, 48, 18), "Recognised lines and their hints"),
    ]


def dashboard_references(items: list[Obj]) -> list[Obj]:
    refs: list[Obj] = []
    for panel in items:
        pid = panel["panelIndex"]
        if panel["type"] == "lens":
            for ref in panel["embeddableConfig"]["attributes"]["references"]:
                refs.append({**ref, "name": f"{pid}:{ref['name']}"})
        elif panel["type"] == "search":
            refs.append({"id": "shipper-root-causes", "name": f"{pid}:{panel['panelRefName']}", "type": "search"})
    return refs


def dashboard() -> Obj:
    items = panels()
    return saved_object("dashboard", "shipper-root-causes-dashboard", {
        "description": "What failed, why, and what to do: the incidents shipper recognised, with their causes and hints.",
        "kibanaSavedObjectMeta": {"searchSourceJSON": search_source("")},
        "optionsJSON": dumps({"useMargins": True, "syncColors": False, "syncCursor": True, "syncTooltips": False,
                              "hidePanelTitles": False}),
        "panelsJSON": dumps(items),
        "refreshInterval": {"pause": True, "value": 60000},
        "timeFrom": "now-7d",
        "timeRestore": True,
        "timeTo": "now",
        "title": "Root causes",
        "version": 1,
    }, dashboard_references(items))


def build() -> str:
    """The NDJSON text: the data view first, then what refers to it."""
    objects = [data_view(), *(saved_search(*s) for s in SEARCHES), dashboard()]
    return "".join(json.dumps(o, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n" for o in objects)


def main() -> int:
    text = build()
    for path in OUTPUTS:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
