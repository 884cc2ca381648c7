"""The Kibana saved objects in `kibana/`: well formed, self-consistent, and only using mapped fields."""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import re
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[2]
NDJSON = ROOT / "kibana" / "shipper.ndjson"
ASSET = ROOT / "shipper" / "assets" / "kibana" / "shipper.ndjson"
MAPPINGS = ROOT / "mappings"
JSON_STRINGS = ("fieldAttrs", "fieldFormatMap", "fields", "runtimeFieldMap", "sourceFilters", "typeMeta",
                "panelsJSON", "optionsJSON")
NOT_AGGREGATABLE = {"text", "match_only_text"}
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_KQL_FIELD = re.compile(r"([A-Za-z_@][\w.@*]*)\s*:")

Obj = dict[str, Any]


def _objects() -> list[Obj]:
    return [json.loads(line) for line in NDJSON.read_text(encoding="utf-8").splitlines()]


def _by_type(kind: str) -> list[Obj]:
    return [o for o in _objects() if o["type"] == kind]


def _mapped_fields() -> dict[str, Obj]:
    """path -> mapping of every field the logs-shipper index template composes (multi-fields included)."""
    template = json.loads((MAPPINGS / "index_templates" / "logs-shipper.json").read_text())
    fields: dict[str, Obj] = {}

    def walk(props: Obj, prefix: str) -> None:
        for name, spec in props.items():
            path = f"{prefix}{name}"
            if "properties" in spec:
                walk(spec["properties"], f"{path}.")
            else:
                fields[path] = spec
                for sub, sub_spec in spec.get("fields", {}).items():
                    fields[f"{path}.{sub}"] = sub_spec

    for name in template["composed_of"]:
        component = json.loads((MAPPINGS / "component_templates" / f"{name}.json").read_text())
        walk(component["template"].get("mappings", {}).get("properties", {}), "")
    return fields


def _kql_fields(query: str) -> list[str]:
    return _KQL_FIELD.findall(_QUOTED.sub('""', query))


def _panels() -> list[Obj]:
    return [p for d in _by_type("dashboard") for p in json.loads(d["attributes"]["panelsJSON"])]


def _lens_layers() -> Iterator[tuple[Obj, str, Obj]]:
    """(Lens attributes, layer id, layer) of every Lens panel."""
    for panel in _panels():
        if panel["type"] == "lens":
            attrs = panel["embeddableConfig"]["attributes"]
            for layer_id, layer in attrs["state"]["datasourceStates"]["formBased"]["layers"].items():
                yield attrs, layer_id, layer


def _used_fields() -> Iterator[tuple[str, str]]:
    """(where, field) for every field a query, column, sort, format or Lens layer names."""
    for search in _by_type("search"):
        attrs = search["attributes"]
        source = json.loads(attrs["kibanaSavedObjectMeta"]["searchSourceJSON"])
        yield from ((f"{search['id']} query", f) for f in _kql_fields(source["query"]["query"]))
        yield from ((f"{search['id']} column", f) for f in attrs["columns"])
        yield from ((f"{search['id']} sort", f) for f, _ in attrs["sort"])
    for view in _by_type("index-pattern"):
        attrs = view["attributes"]
        yield ("data view time field", attrs["timeFieldName"])
        for key in ("fieldFormatMap", "fieldAttrs"):
            yield from ((f"data view {key}", f) for f in json.loads(attrs[key]))
    for attrs, layer_id, layer in _lens_layers():
        yield from ((f"{attrs['title']} query", f) for f in _kql_fields(attrs["state"]["query"]["query"]))
        for col in layer["columns"].values():
            if col["sourceField"] != "___records___":
                yield (f"{attrs['title']} layer {layer_id}", col["sourceField"])
            if "filter" in col:
                yield from ((f"{attrs['title']} column filter", f) for f in _kql_fields(col["filter"]["query"]))
            if "sortField" in col.get("params", {}):
                yield (f"{attrs['title']} sort", col["params"]["sortField"])


def test_every_line_is_a_saved_object_kibana_migrates_on_import() -> None:
    lines = NDJSON.read_text(encoding="utf-8").splitlines()
    assert lines and all(line.strip() for line in lines)
    for obj in map(json.loads, lines):
        assert {"type", "id", "attributes", "references"} <= obj.keys(), obj.get("id")
        assert re.fullmatch(r"\d+\.\d+\.\d+", obj["coreMigrationVersion"])
        assert re.fullmatch(r"\d+\.\d+\.\d+", obj["typeMigrationVersion"])
        assert obj["id"].startswith("shipper-"), "stable, recognisable ids"


def test_the_promised_objects_are_there_with_stable_ids() -> None:
    got = {(o["type"], o["id"]): o["attributes"].get("title") for o in _objects()}
    assert got == {
        ("index-pattern", "shipper-logs"): "logs-shipper.*-*,-logs-shipper.deadletter-*",
        ("search", "shipper-root-causes"): "Root causes",
        ("search", "shipper-unit-failures"): "Unit failures",
        ("search", "shipper-sendmail-syserr"): "sendmail SYSERR",
        ("search", "shipper-es-bootstrap-checks"): "Elasticsearch bootstrap checks",
        ("dashboard", "shipper-root-causes-dashboard"): "Root causes",
    }
    root = next(o for o in _by_type("search") if o["id"] == "shipper-root-causes")
    source = json.loads(root["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
    assert source["query"] == {"query": "rootcause.signature: *", "language": "kuery"}


def test_json_strings_parse() -> None:
    for obj in _objects():
        attrs = obj["attributes"]
        for key in JSON_STRINGS:
            if key in attrs:
                json.loads(attrs[key])
        meta = attrs.get("kibanaSavedObjectMeta")
        if meta:
            source = json.loads(meta["searchSourceJSON"])
            assert source["query"]["language"] == "kuery"


def test_data_view_matches_the_data_streams_and_formats_the_hint_and_docs() -> None:
    (view,) = _by_type("index-pattern")
    attrs = view["attributes"]
    template = json.loads((MAPPINGS / "index_templates" / "logs-shipper.json").read_text())
    include, exclude = attrs["title"].split(",")
    for stream in ("logs-shipper.syslog-default", "logs-shipper.journald-prod"):
        assert any(fnmatch.fnmatch(stream, p) for p in template["index_patterns"])
        assert fnmatch.fnmatch(stream, include) and not fnmatch.fnmatch(stream, exclude[1:])
    assert fnmatch.fnmatch("logs-shipper.deadletter-default", exclude[1:])
    assert attrs["timeFieldName"] == "@timestamp"
    formats = json.loads(attrs["fieldFormatMap"])
    assert formats["rootcause.docs"]["id"] == "url" and formats["rootcause.hint"]["id"] == "color"


def test_references_resolve_inside_the_file() -> None:
    known = {(o["type"], o["id"]) for o in _objects()}
    for obj in _objects():
        names = [r["name"] for r in obj["references"]]
        assert len(names) == len(set(names)), f"{obj['id']}: duplicate reference names"
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in known, f"{obj['id']} refers to missing {ref['type']} {ref['id']}"
        meta = obj["attributes"].get("kibanaSavedObjectMeta")
        index_ref = json.loads(meta["searchSourceJSON"]).get("indexRefName") if meta else None
        if index_ref:
            assert index_ref in names


def test_dashboard_panels_and_their_references_agree() -> None:
    (dashboard,) = _by_type("dashboard")
    refs = {r["name"]: r for r in dashboard["references"]}
    panels = _panels()
    assert len({p["panelIndex"] for p in panels}) == len(panels)
    for panel in panels:
        assert panel["gridData"]["i"] == panel["panelIndex"]
        assert panel["gridData"]["x"] + panel["gridData"]["w"] <= 48
        if panel["type"] == "lens":
            for ref in panel["embeddableConfig"]["attributes"]["references"]:
                assert refs[f"{panel['panelIndex']}:{ref['name']}"]["id"] == ref["id"]
        if panel["type"] == "search":
            assert refs[f"{panel['panelIndex']}:{panel['panelRefName']}"]["type"] == "search"
    kinds = sorted(p["embeddableConfig"].get("attributes", {}).get("visualizationType", p["type"]) for p in panels)
    assert kinds == ["lnsDatatable", "lnsXY", "lnsXY", "lnsXY", "search", "visualization"]
    markdown = next(p for p in panels if p["type"] == "visualization")["embeddableConfig"]["savedVis"]
    assert markdown["type"] == "markdown" and "How to read" in markdown["params"]["markdown"]


def test_lens_layers_are_consistent() -> None:
    for attrs, layer_id, layer in _lens_layers():
        columns = layer["columns"]
        assert set(layer["columnOrder"]) == set(columns)
        assert f"indexpattern-datasource-layer-{layer_id}" in {r["name"] for r in attrs["references"]}
        for col in columns.values():
            order = col.get("params", {}).get("orderBy", {})
            if order.get("type") == "column":
                assert order["columnId"] in columns and not columns[order["columnId"]]["isBucketed"]
        vis = attrs["state"]["visualization"]
        if attrs["visualizationType"] == "lnsDatatable":
            assert vis["layerId"] == layer_id and {c["columnId"] for c in vis["columns"]} == set(columns)
        else:
            (xy_layer,) = vis["layers"]
            used = {xy_layer["xAccessor"], *xy_layer["accessors"], *filter(None, [xy_layer.get("splitAccessor")])}
            assert xy_layer["layerId"] == layer_id and used == set(columns)


def test_every_field_used_is_mapped() -> None:
    mapped = _mapped_fields()
    used = list(_used_fields())
    assert len(used) > 40
    missing = [(where, f) for where, f in used if f not in mapped and f != "message"]
    assert not missing, f"fields not in mappings/: {missing}"
    assert "message" in mapped


def test_lens_aggregates_only_aggregatable_fields() -> None:
    mapped = _mapped_fields()
    for attrs, _, layer in _lens_layers():
        for col in layer["columns"].values():
            field = col["sourceField"]
            if field == "___records___":
                continue
            spec = mapped[field]
            assert spec["type"] not in NOT_AGGREGATABLE and spec.get("doc_values", True), \
                f"{attrs['title']}: {field} ({spec['type']}) cannot be aggregated"


def test_field_check_catches_an_unmapped_field() -> None:
    assert _kql_fields('rootcause.role: "fail: ure" and systemd.unit: *') == ["rootcause.role", "systemd.unit"]
    assert "rootcause.nonexistent" not in _mapped_fields()


def _build_module() -> Any:
    spec = importlib.util.spec_from_file_location("kibana_build", ROOT / "kibana" / "build.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_files_are_what_build_py_writes() -> None:
    text = _build_module().build()
    assert NDJSON.read_text(encoding="utf-8") == text, "kibana/shipper.ndjson is stale: run python kibana/build.py"
    assert ASSET.read_text(encoding="utf-8") == text, "the wheel's copy differs: run python kibana/build.py"


def test_setup_imports_what_kibana_holds() -> None:
    from shipper.setup.kibana import saved_objects

    assert saved_objects() == NDJSON.read_bytes()
