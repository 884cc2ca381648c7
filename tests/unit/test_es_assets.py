"""The index design as files: every documented field mapped, versions, priorities, packaging, the role."""

from __future__ import annotations

import filecmp
import fnmatch
import json
import re
from pathlib import Path
from typing import Any

import pytest

from shipper.setup.assets import load_assets
from shipper.sinks.bulk import DATASETS, DEADLETTER_DATASET, INDEX_PATTERN, OTHER_DATASET, data_stream

ROOT = Path(__file__).resolve().parents[2]
ASSETS = {a.name: a for a in load_assets() if a.kind != "ilm_policy"}
POLICY = next(a for a in load_assets() if a.kind == "ilm_policy")


def _mapping(template: str) -> dict[str, Any]:
    body = ASSETS[template].body
    merged: dict[str, Any] = {"properties": {}}
    parts = [ASSETS[c].body["template"] for c in body.get("composed_of", [])] + [body.get("template", {})]
    for part in parts:
        mappings = part.get("mappings", {})
        merged.update({k: v for k, v in mappings.items() if k != "properties"})
        merged["properties"].update(mappings.get("properties", {}))
    return merged


def _field(mapping: dict[str, Any], dotted: str) -> dict[str, Any] | None:
    node: dict[str, Any] | None = mapping
    for part in dotted.split("."):
        node = (node or {}).get("properties", {}).get(part)
    return node


def _documented_fields() -> set[str]:
    """Every field named in docs/fields.md (``a.b.c`` / ``.d`` means a.b.c and a.b.d)."""
    roots = {"@timestamp", "message", "tags", "event", "host", "process", "log", "systemd", "journald",
             "elasticsearch", "rootcause", "sendmail", "error", "data_stream"}
    fields: set[str] = set()
    for line in (ROOT / "docs" / "fields.md").read_text().splitlines():
        cells = line.split("|")[1:2] if line.startswith("|") else [line]
        last = ""
        for token in re.findall(r"`([^`]+)`", " ".join(cells)):
            if token.startswith(".") and last:
                fields.add(last.rsplit(".", 1)[0] + token)
            elif re.fullmatch(r"[@\w]+(\.\w+)*", token) and token.split(".")[0] in roots:
                fields.add(token)
                last = token
    return fields


def test_the_wheel_copies_are_the_top_level_files() -> None:
    for folder in ("mappings", "pipelines"):
        cmp = filecmp.dircmp(ROOT / folder, ROOT / "shipper" / "assets" / folder)
        stack = [cmp]
        while stack:
            c = stack.pop()
            _, mismatch, errors = filecmp.cmpfiles(c.left, c.right, c.common_files, shallow=False)
            assert not (c.left_only or c.right_only or mismatch or errors), (
                f"{folder}/ and shipper/assets/{folder}/ differ ({c.left_only or c.right_only or mismatch}): "
                f"the top-level files are the source; run: make assets")
            stack.extend(c.subdirs.values())


def test_every_documented_field_is_mapped_explicitly() -> None:
    mapping = _mapping("logs-shipper")
    documented = _documented_fields()
    assert len(documented) > 60  # the parse of fields.md found the tables
    unmapped = sorted(f for f in documented if _field(mapping, f) is None)
    assert not unmapped, f"fields in docs/fields.md without a mapping: {unmapped}"


@pytest.mark.parametrize(("field", "expected"), [
    ("@timestamp", "date"), ("message", "match_only_text"), ("event.id", "keyword"),
    ("process.pid", "long"), ("journald.custom", "flattened"), ("log.syslog.structured_data", "flattened"),
    ("rootcause.signature", "keyword"), ("rootcause.cause.count", "long"), ("rootcause.cause.first", "date"),
    ("elasticsearch.bootstrap.current_value", "long"), ("data_stream.dataset", "constant_keyword"),
    ("event.ingested", "date"),
])
def test_field_types(field: str, expected: str) -> None:
    assert (_field(_mapping("logs-shipper"), field) or {}).get("type") == expected


def test_unknown_fields_cannot_explode_the_mapping() -> None:
    assert _mapping("logs-shipper")["dynamic"] is False
    assert _mapping("logs-shipper.deadletter")["dynamic"] is False
    assert _field(_mapping("logs-shipper.deadletter"), "event.original") == {
        "type": "keyword", "index": False, "doc_values": False}


def test_every_asset_is_versioned_and_marked_as_shippers() -> None:
    for asset in [*ASSETS.values(), POLICY]:
        assert asset.meta.get("managed_by") == "shipper" and asset.version >= 1, asset.label
        if asset.kind != "ilm_policy":
            assert asset.body["version"] == asset.version, asset.label


def test_templates_outrank_the_builtin_logs_template_and_catch_every_data_stream() -> None:
    templates = {n: a.body for n, a in ASSETS.items() if a.kind == "index_template"}
    assert all(t["priority"] > 100 and "data_stream" in t for t in templates.values())

    def winner(name: str) -> str:
        matching = [(t["priority"], n) for n, t in templates.items()
                    if any(fnmatch.fnmatchcase(name, p) for p in t["index_patterns"])]
        return max(matching)[1]

    for dataset in [*DATASETS.values(), OTHER_DATASET]:
        assert winner(data_stream(dataset, "prod_eu")) == "logs-shipper"
    assert winner(data_stream(DEADLETTER_DATASET, "default")) == "logs-shipper.deadletter"
    assert templates["logs-shipper"]["index_patterns"] == [INDEX_PATTERN]


def test_components_referenced_exist_and_settings_name_installed_objects() -> None:
    for name in ASSETS["logs-shipper"].body["composed_of"]:
        assert ASSETS[name].kind == "component_template"
    index = ASSETS["logs-shipper@settings"].body["template"]["settings"]["index"]
    assert ASSETS[index["default_pipeline"]].kind == "ingest_pipeline"
    assert index["lifecycle"]["name"] == POLICY.name


def test_the_default_pipeline_sets_event_ingested_and_keeps_failed_documents() -> None:
    body = ASSETS["logs-shipper-default"].body
    sets = [p["set"] for p in body["processors"] if "set" in p]
    assert {"field": "event.ingested", "value": "{{{_ingest.timestamp}}}", "tag": "ingested"} in sets
    handlers = json.dumps(body["on_failure"])
    assert "error.message" in handlers and "_ingest.on_failure_message" in handlers
    assert "drop" not in handlers and "fail" not in [next(iter(p)) for p in body["on_failure"]]


def test_ilm_deletes_after_the_default_retention_of_30_days() -> None:
    policy = POLICY.body["policy"]
    assert policy["phases"]["delete"] == {"min_age": "30d", "actions": {"delete": {}}}
    assert set(policy["phases"]["hot"]["actions"]["rollover"]) == {"max_primary_shard_size", "max_age"}


def test_the_deploy_role_grants_what_the_sink_and_check_need_and_no_more() -> None:
    from shipper.commands.check import CLUSTER_PRIVILEGES, INDEX_PRIVILEGES

    role = json.loads((ROOT / "deploy" / "elasticsearch-role.json").read_text())["role_descriptors"]["shipper_writer"]
    assert set(CLUSTER_PRIVILEGES) <= set(role["cluster"]) <= {"monitor", "read_ilm", "read_pipeline"}
    (indices,) = role["indices"]
    assert indices["names"] == [INDEX_PATTERN] and sorted(indices["privileges"]) == sorted(INDEX_PRIVILEGES)


def test_every_field_the_pipeline_emits_on_the_corpus_is_mapped() -> None:
    """The contract both ways: what `shipper replay` really writes must not land unindexed."""
    import io

    import orjson

    from shipper.cli import main
    from shipper.env import Env

    stdout = io.TextIOWrapper(io.BytesIO(), write_through=True)
    env = Env(stdin=io.BytesIO(), stdout=stdout, stderr=io.StringIO(), environ={"HOME": "/nonexistent", "TZ": "UTC"})
    corpus = ROOT / "tests" / "data" / "corpus"
    assert main(["replay", "--output", "ndjson", "--timezone", "UTC", "--year", "2017", "--quiet", str(corpus)], env) == 0
    mapping = _mapping("logs-shipper")
    unmapped: set[str] = set()

    def walk(node: dict[str, Any], spec: dict[str, Any], prefix: str) -> None:
        for key, value in node.items():
            sub = spec.get("properties", {}).get(key)
            if sub is None:
                if not prefix.startswith("elasticsearch."):  # elasticsearch.* maps dynamically, as keywords
                    unmapped.add(prefix + key)
            elif isinstance(value, dict) and sub.get("type") != "flattened":
                walk(value, sub, f"{prefix}{key}.")

    lines = stdout.buffer.getvalue().splitlines()  # type: ignore[attr-defined]
    assert len(lines) > 10_000
    for line in lines:
        walk(orjson.loads(line), mapping, "")
    assert not unmapped, f"fields written but not mapped (add them to mappings/ and docs/fields.md): {sorted(unmapped)}"
