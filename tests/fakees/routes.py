"""The endpoints the shipper uses, with Elasticsearch's request checks and response shapes."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.fakees import search
from tests.fakees.cluster import Cluster, Handler, Request
from tests.fakees.errors import EsError


def _json(req: Request) -> Any:
    if not req.body:
        raise EsError(400, "parse_exception", "request body is required")
    try:
        return json.loads(req.body)
    except ValueError as exc:
        raise EsError(400, "x_content_parse_exception", f"[1:1] {exc}") from None


def root(c: Cluster, req: Request, _: dict[str, str]) -> tuple[int, Any]:
    c.require_cluster(req, "cluster:monitor/main", "monitor", "manage")
    return 200, {
        "name": "fakees-0", "cluster_name": "fakees", "cluster_uuid": "l4xTxa3bQ8y2e0iJ1hVnVg",
        "version": {
            "number": c.version, "build_flavor": "default", "build_type": "docker",
            "build_hash": "0123456789abcdef0123456789abcdef01234567", "build_date": "2024-09-01T12:00:00.000000000Z",
            "build_snapshot": False, "lucene_version": "9.11.1" if c.major == 8 else "10.1.0",
            "minimum_wire_compatibility_version": f"{c.major - 1}.{17 if c.major == 8 else 19}.0",
            "minimum_index_compatibility_version": f"{c.major - 1}.0.0",
        },
        "tagline": "You Know, for Search",
    }


def bulk(c: Cluster, req: Request, p: dict[str, str]) -> tuple[int, Any]:
    return c.bulk(req, p.get("index"))


# -- templates, ILM, pipelines: stored as given (settings normalised as Elasticsearch does) ----------
def put_component(c: Cluster, req: Request, p: dict[str, str]) -> tuple[int, Any]:
    c.require_cluster(req, "cluster:admin/component_template/put", "manage_index_templates", "manage")
    body = _json(req)
    if "template" not in body:
        raise EsError(400, "action_request_validation_exception", "Validation Failed: 1: template is missing;")
    body["template"] = _normalise_template(body["template"])
    c.component_templates[p["name"]] = body
    return 200, {"acknowledged": True}


def get_component(c: Cluster, req: Request, p: dict[str, str]) -> tuple[int, Any]:
    c.require_cluster(req, "cluster:admin/component_template/get", "manage_index_templates", "monitor", "manage")
    if p["name"] not in c.component_templates:
        raise EsError(404, "resource_not_found_exception", f"component template matching [{p['name']}] not found")
    return 200, {"component_templates": [{"name": p["name"], "component_template": c.component_templates[p["name"]]}]}


def put_index_template(c: Cluster, req: Request, p: dict[str, str]) -> tuple[int, Any]:
    c.require_cluster(req, "indices:admin/index_template/put", "manage_index_templates", "manage")
    body = _json(req)
    missing = [n for n in body.get("composed_of", []) if n not in c.component_templates]
    if missing:
        raise EsError(400, "invalid_index_template_exception",
                      f"index_template [{p['name']}] invalid, cause [index template [{p['name']}] specifies "
                      f"component templates {missing} that do not exist]")
    for other, ob in c.index_templates.items():
        if other != p["name"] and ob.get("priority", 0) == body.get("priority", 0) and set(
                ob.get("index_patterns", [])) & set(body.get("index_patterns", [])):
            raise EsError(400, "illegal_argument_exception",
                          f"index template [{p['name']}] has index patterns {body['index_patterns']} matching patterns "
                          f"from existing templates [{other}] with patterns ({other} => {ob['index_patterns']}) that "
                          "have the same priority [" + str(body.get("priority", 0)) + "], multiple index templates may "
                          "not match during index creation, please use a different priority")
    if "template" in body:
        body["template"] = _normalise_template(body["template"])
    c.index_templates[p["name"]] = body
    return 200, {"acknowledged": True}


def get_index_template(c: Cluster, req: Request, p: dict[str, str]) -> tuple[int, Any]:
    c.require_cluster(req, "indices:admin/index_template/get", "manage_index_templates", "monitor", "manage")
    if p["name"] not in c.index_templates:
        raise EsError(404, "resource_not_found_exception", f"index template matching [{p['name']}] not found")
    return 200, {"index_templates": [{"name": p["name"], "index_template": c.index_templates[p["name"]]}]}


def put_ilm(c: Cluster, req: Request, p: dict[str, str]) -> tuple[int, Any]:
    c.require_cluster(req, "cluster:admin/ilm/put", "manage_ilm", "manage")
    body = _json(req)
    if "policy" not in body:
        raise EsError(400, "x_content_parse_exception", "[1:2] [put_lifecycle_request] policy is missing")
    old = c.ilm_policies.get(p["name"])
    c.ilm_policies[p["name"]] = {"version": (old["version"] + 1) if old else 1,
                                  "modified_date": "2024-01-01T00:00:00.000Z", "policy": body["policy"]}
    return 200, {"acknowledged": True}


def get_ilm(c: Cluster, req: Request, p: dict[str, str]) -> tuple[int, Any]:
    c.require_cluster(req, "cluster:admin/ilm/get", "read_ilm", "manage_ilm", "manage")
    if p["name"] not in c.ilm_policies:
        raise EsError(404, "resource_not_found_exception", f"Lifecycle policy not found: {p['name']}")
    entry = c.ilm_policies[p["name"]]
    return 200, {p["name"]: {**entry, "in_use_by": {"indices": [], "data_streams": [], "composable_templates": []}}}


def put_pipeline(c: Cluster, req: Request, p: dict[str, str]) -> tuple[int, Any]:
    c.require_cluster(req, "cluster:admin/ingest/pipeline/put", "manage_ingest_pipelines", "manage_pipeline", "manage")
    body = _json(req)
    if not isinstance(body.get("processors"), list):
        raise EsError(400, "parse_exception", "[processors] required property is missing",
                      extra={"property_name": "processors"})
    c.pipelines[p["id"]] = body
    return 200, {"acknowledged": True}


def get_pipeline(c: Cluster, req: Request, p: dict[str, str]) -> tuple[int, Any]:
    c.require_cluster(req, "cluster:admin/ingest/pipeline/get", "read_pipeline", "manage_ingest_pipelines",
                      "manage_pipeline", "manage")
    if p["id"] not in c.pipelines:
        return 404, {}  # Elasticsearch answers a missing pipeline with 404 and an empty object
    return 200, {p["id"]: c.pipelines[p["id"]]}


def has_privileges(c: Cluster, req: Request, _: dict[str, str]) -> tuple[int, Any]:
    """Whether the caller holds each privilege asked for, as Elasticsearch answers: a privilege is
    held through a greater one too (IndexPrivilege/ClusterPrivilegeResolver: ``create_doc`` through
    ``create``, ``index`` or ``write``; ``auto_configure`` and ``monitor`` through ``manage``). With
    security off, 8.x and 9.x register no security endpoint: 400, the body RestController's
    handleBadRequest writes (an ``error`` string, no ``status``; elastic/elasticsearch#53761)."""
    if not c.security:
        return 400, {"error": f"no handler found for uri [{req.path}] and method [{req.method}]"}
    through = {"create_doc": {"create", "index", "write"}, "create": {"index", "write"}, "index": {"write"},
               "auto_configure": {"manage"}, "monitor": {"manage"}}  # (privilege: the greater ones that hold it)

    def held(granted: set[str], priv: str) -> bool:
        return bool(granted & ({"all", priv} | through.get(priv, set())))

    grant = c.grant(req)
    body = _json(req)
    cluster = {priv: held(grant.cluster, priv) for priv in body.get("cluster", [])}
    index: dict[str, dict[str, bool]] = {}
    for entry in body.get("index", []):
        for name in entry.get("names", []):
            index[name] = {priv: held(grant.index, priv) for priv in entry.get("privileges", [])}
    every = all(cluster.values()) and all(v for d in index.values() for v in d.values())
    return 200, {"username": grant.user, "has_all_requested": every, "cluster": cluster, "index": index,
                 "application": {}}


def _normalise_template(template: dict[str, Any]) -> dict[str, Any]:
    """Settings come back nested under ``index`` with string values, as Elasticsearch returns them."""
    settings = template.get("settings")
    if settings is None:
        return template
    flat: dict[str, Any] = {}
    _flatten(settings, "", flat)
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        key = key if key.startswith("index.") else f"index.{key}"
        cur = nested
        parts = key.split(".")
        for part in parts[:-1]:
            cur = cur.setdefault(part, {})
        cur[parts[-1]] = json.dumps(value) if isinstance(value, bool) else str(value)
    return {**template, "settings": nested}


def _flatten(node: dict[str, Any], prefix: str, out: dict[str, Any]) -> None:
    for key, value in node.items():
        if isinstance(value, dict):
            _flatten(value, f"{prefix}{key}.", out)
        else:
            out[f"{prefix}{key}"] = value


_NAME = r"(?P<name>[^/_][^/]*)"
ROUTES: list[tuple[str, re.Pattern[str], Handler]] = [
    ("GET|HEAD", re.compile(r"/"), root),
    ("POST|PUT", re.compile(r"/_bulk"), bulk),
    ("POST|PUT", re.compile(r"/(?P<index>[^/_][^/]*)/_bulk"), bulk),
    ("PUT|POST", re.compile(r"/_component_template/" + _NAME), put_component),
    ("GET", re.compile(r"/_component_template/" + _NAME), get_component),
    ("PUT|POST", re.compile(r"/_index_template/" + _NAME), put_index_template),
    ("GET|HEAD", re.compile(r"/_index_template/" + _NAME), get_index_template),
    ("PUT", re.compile(r"/_ilm/policy/" + _NAME), put_ilm),
    ("GET", re.compile(r"/_ilm/policy/" + _NAME), get_ilm),
    ("PUT", re.compile(r"/_ingest/pipeline/(?P<id>[^/_][^/]*)"), put_pipeline),
    ("GET", re.compile(r"/_ingest/pipeline/(?P<id>[^/_][^/]*)"), get_pipeline),
    ("GET|POST", re.compile(r"/_security/user/_has_privileges"), has_privileges),
    ("POST", re.compile(r"/(?P<index>[^/_][^/]*)/_pit"), search.open_pit),
    ("DELETE", re.compile(r"/_pit"), search.close_pit),
    ("GET|POST", re.compile(r"/_search"), search.search),
    ("GET|POST", re.compile(r"/(?P<index>[^/_][^/]*)/_search"), search.search),
    ("GET", re.compile(r"/(?P<index>[^/_][^/]*)/_doc/(?P<id>[^/]+)"), search.get_doc),
]
