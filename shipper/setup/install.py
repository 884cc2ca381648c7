"""Compare the assets in a cluster with shipper's, and install what is missing or older.

Idempotent: a second run changes nothing. Never deletes anything: templates apply to data streams
at their next rollover, existing data is left as it is. An object of the same name that shipper
did not install (no ``_meta.managed_by: shipper``) is left alone unless forced.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from elasticsearch import ApiError, Elasticsearch, NotFoundError

from shipper.errors import UnavailableError
from shipper.setup.assets import MANAGED_BY, Asset, meta_of
from shipper.sinks.es_errors import error_reason

State = Literal["missing", "outdated", "changed", "current", "newer", "foreign", "unreadable"]
NEEDS_INSTALL: frozenset[str] = frozenset({"missing", "outdated", "changed"})
# The cluster privileges setup needs to read and write its assets (`manage` or `all` hold them all).
PRIVILEGES = ("manage_ilm", "manage_index_templates", "manage_ingest_pipelines")
PRIVILEGES_HINT = (
    f"run `shipper setup` with credentials that have the cluster privileges {', '.join(PRIVILEGES)} "
    "(or manage): an administrator's, not the shipper's own API key, whose role (deploy/elasticsearch-role.json) "
    "may only write documents"
)


@dataclass
class Status:
    asset: Asset
    state: State
    installed: int | None = None  # the version in the cluster
    detail: str = ""
    answer: int | None = None  # unreadable: the HTTP status Elasticsearch answered

    def describe(self) -> str:
        a = self.asset
        return {
            "missing": f"{a.label}: not installed",
            "outdated": f"{a.label}: v{self.installed} installed, v{a.version} available",
            "changed": f"{a.label}: v{a.version} installed with {self.detail}",
            "current": f"{a.label}: v{a.version}, current",
            "newer": f"{a.label}: v{self.installed} installed by a newer shipper (this one has v{a.version}); left alone",
            "foreign": f"{a.label}: exists but was not installed by shipper; left alone (--force replaces it)",
            "unreadable": f"{a.label}: cannot be read ({self.detail})",
        }[self.state]


def result_line(verb: str, status: Status) -> str:
    """One line of `shipper setup`'s report."""
    a = status.asset
    if verb == "installed":
        return f"installed  {a.label} v{a.version}"
    if verb == "replaced":
        return f"replaced   {a.label} (not installed by shipper) with v{a.version}"
    if verb == "updated" and status.state == "outdated":
        return f"upgraded   {a.label} v{status.installed} -> v{a.version}"
    if verb == "updated":
        return f"updated    {a.label}: {status.detail}"
    if verb == "unchanged":
        return f"current    {a.label} v{a.version}"
    return f"skipped    {status.describe()}"


def fetch(client: Elasticsearch, asset: Asset) -> dict[str, Any] | None:
    """The installed body of ``asset`` (None when there is none)."""
    name = asset.name
    try:
        if asset.kind == "ilm_policy":
            return {"policy": client.ilm.get_lifecycle(name=name).body[name]["policy"]}
        if asset.kind == "ingest_pipeline":
            body: dict[str, Any] = client.ingest.get_pipeline(id=name).body[name]
            return body
        if asset.kind == "component_template":
            found = client.cluster.get_component_template(name=name).body["component_templates"]
            return found[0]["component_template"] if found else None
        found = client.indices.get_index_template(name=name).body["index_templates"]
        return found[0]["index_template"] if found else None
    except NotFoundError:
        return None


def put(client: Elasticsearch, asset: Asset) -> None:
    name, body = asset.name, asset.body
    if asset.kind == "ilm_policy":
        client.ilm.put_lifecycle(name=name, body=body)
    elif asset.kind == "ingest_pipeline":
        client.ingest.put_pipeline(id=name, body=body)
    elif asset.kind == "component_template":
        client.cluster.put_component_template(name=name, body=body)
    else:
        client.indices.put_index_template(name=name, body=body)


def inspect(client: Elasticsearch, assets: list[Asset]) -> list[Status]:
    statuses = []
    for asset in assets:
        try:
            installed = fetch(client, asset)
        except ApiError as exc:
            statuses.append(Status(asset, "unreadable", detail=f"{exc.meta.status}: {error_reason(exc.body)}",
                                   answer=exc.meta.status))
            continue
        statuses.append(compare(asset, installed))
    return statuses


def compare(asset: Asset, installed: dict[str, Any] | None) -> Status:
    if installed is None:
        return Status(asset, "missing")
    meta = meta_of(asset.kind, installed)
    if meta.get("managed_by") != MANAGED_BY:
        return Status(asset, "foreign")
    version = int(meta.get("version", 0))
    if version < asset.version:
        return Status(asset, "outdated", version)
    if version > asset.version:
        return Status(asset, "newer", version)
    if asset.kind == "ilm_policy" and meta.get("retention") != asset.meta.get("retention"):
        return Status(asset, "changed", version,
                      f"retention {meta.get('retention')}, configured {asset.meta.get('retention')}")
    return Status(asset, "current", version)


def apply(client: Elasticsearch, statuses: list[Status], *, force: bool = False) -> list[tuple[str, Status]]:
    """Install what needs it; returns (what was done, status before) per asset."""
    done: list[tuple[str, Status]] = []
    for status in statuses:
        if status.state in NEEDS_INSTALL or (force and status.state == "foreign"):
            put(client, status.asset)
            verb = {"missing": "installed", "foreign": "replaced"}.get(status.state, "updated")
            done.append((verb, status))
        else:
            done.append(("unchanged" if status.state == "current" else "skipped", status))
    return done


def not_read_error(statuses: list[Status]) -> UnavailableError | None:
    """The error of a setup that could not read some of its assets, so neither compared nor
    installed them (None when it read them all)."""
    unread = [s for s in statuses if s.state == "unreadable"]
    if not unread:
        return None
    which = ", ".join(f"{s.asset.label} ({s.answer})" for s in unread)
    message = (f"setup could not read {len(unread)} of its {len(statuses)} assets, "
               f"so it neither checked nor installed them: {which}")
    if any(s.answer == 403 for s in unread):
        return UnavailableError(f"{message}; Elasticsearch refused them to these credentials (403 Forbidden)",
                                hint=PRIVILEGES_HINT)
    return UnavailableError(message, hint="the lines above say why; run setup again once Elasticsearch answers")
