"""Compare the assets in a cluster with shipper's, and install what is missing or older.

Idempotent: a second run changes nothing. Never deletes anything: templates apply to data streams
at their next rollover, existing data is left as it is. An object of the same name that shipper
did not install (no ``_meta.managed_by: shipper``) is left alone unless forced. An asset that names
another (a template its pipeline or ILM policy, an index template its component templates) is held
back while setup cannot read what it names: installed, it could make every write fail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from elasticsearch import ApiError, Elasticsearch, NotFoundError

from shipper.errors import UnavailableError
from shipper.setup.assets import MANAGED_BY, Asset, Kind, meta_of
from shipper.sinks.es_client import unavailable
from shipper.sinks.es_errors import error_reason

State = Literal["missing", "outdated", "changed", "current", "newer", "foreign", "unreadable"]
NEEDS_INSTALL: frozenset[str] = frozenset({"missing", "outdated", "changed"})
WRITES: frozenset[str] = frozenset({"installed", "updated", "replaced"})  # the verbs of a step that writes
# The cluster privilege that reads and writes each kind of asset (`manage` or `all` hold them all).
PRIVILEGE: dict[str, str] = {"ilm_policy": "manage_ilm", "ingest_pipeline": "manage_ingest_pipelines",
                             "component_template": "manage_index_templates", "index_template": "manage_index_templates"}
PRIVILEGES = tuple(sorted(set(PRIVILEGE.values())))
# The REST path of each kind of asset (for the commands a message suggests).
PATHS: dict[str, str] = {"ilm_policy": "_ilm/policy", "ingest_pipeline": "_ingest/pipeline",
                         "component_template": "_component_template", "index_template": "_index_template"}
# An index template whose patterns overlap another's of the same priority: the other's names.
_SAME_PRIORITY = re.compile(r"matching patterns from existing templates \[([^\]]+)\]")
# Index settings that name another asset, and the kind of asset they name.
_NAMING_SETTINGS: tuple[tuple[str, Kind], ...] = (
    ("index.default_pipeline", "ingest_pipeline"),
    ("index.final_pipeline", "ingest_pipeline"),
    ("index.lifecycle.name", "ilm_policy"),
)
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
    # the assets this one names (directly or through another) that could not be read
    needs_unread: list[Status] = field(default_factory=list)

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
    if verb == "held":
        return f"held back  {a.label} v{a.version}: not installed, {held_reason(status)}"
    if verb == "failed":
        return f"FAILED     {a.label} v{a.version}: Elasticsearch refused it (the error is below)"
    if verb == "not tried":
        return f"not tried  {a.label} v{a.version} (setup stopped at the failure)"
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


def remedy(status: Status) -> str:
    """What `shipper check` tells to do about an asset that is not as setup would leave it."""
    a = status.asset
    if status.state == "foreign":
        return (f"{a.label}: exists but was not installed by shipper, and `shipper setup` leaves it alone: "
                f"run `shipper setup --force` to replace it with shipper's v{a.version} (keep a copy of the one "
                f"there first: GET {PATHS[a.kind]}/{a.name})")
    return f"{status.describe()}; run `shipper setup`"


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
    _find_unread_needs(statuses)
    return statuses


def named_assets(asset: Asset) -> list[tuple[Kind, str]]:
    """The assets ``asset`` names, which must exist for it to work: the component templates an index
    template is composed of, and the ingest pipelines and ILM policy a template's settings name."""
    if asset.kind not in ("component_template", "index_template"):
        return []
    named: list[tuple[Kind, str]] = [("component_template", str(n)) for n in asset.body.get("composed_of", [])]
    settings: dict[str, Any] = {}
    _flatten(asset.body.get("template", {}).get("settings", {}), "", settings)
    for key, kind in _NAMING_SETTINGS:
        value = settings.get(key, settings.get(key.removeprefix("index.")))
        if isinstance(value, str) and value != "_none":
            named.append((kind, value))
    return named


def _flatten(node: dict[str, Any], prefix: str, out: dict[str, Any]) -> None:
    """Settings as Elasticsearch takes them, nested or dotted, as dotted keys."""
    for key, value in node.items():
        if isinstance(value, dict):
            _flatten(value, f"{prefix}{key}.", out)
        else:
            out[f"{prefix}{key}"] = value


def _find_unread_needs(statuses: list[Status]) -> None:
    """Set ``needs_unread`` of each status: the unreadable assets it names, directly or through
    another asset (statuses come in install order: what an asset names comes before it)."""
    unread: dict[tuple[str, str], list[Status]] = {}
    for status in statuses:
        key = (status.asset.kind, status.asset.name)
        below = [u for named in named_assets(status.asset) for u in unread.get(named, [])]
        status.needs_unread = list({id(u): u for u in below}.values())
        if status.state == "unreadable":
            unread[key] = [status]
        elif status.needs_unread:
            unread[key] = status.needs_unread


def held_reason(status: Status) -> str:
    """Why setup does not install ``status``'s asset: what it needs that could not be read."""
    needed = [f"{u.asset.label} ({u.answer}" + (f"; needs {PRIVILEGE[u.asset.kind]})" if u.answer == 403 else ")")
              for u in status.needs_unread]
    return f"it needs {', '.join(needed)}, which setup could not read"


def plan(statuses: list[Status], *, force: bool = False) -> list[tuple[str, Status]]:
    """What setup does with each asset: a verb of `result_line` per status, in install order."""
    steps: list[tuple[str, Status]] = []
    for status in statuses:
        if status.state in NEEDS_INSTALL or (force and status.state == "foreign"):
            verb = {"missing": "installed", "foreign": "replaced"}.get(status.state, "updated")
            steps.append(("held" if status.needs_unread else verb, status))
        else:
            steps.append(("unchanged" if status.state == "current" else "skipped", status))
    return steps


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


def apply(client: Elasticsearch, steps: list[tuple[str, Status]]) -> tuple[list[tuple[str, Status]], ApiError | None]:
    """Carry out the `plan`, in order, up to the first write Elasticsearch refuses. Returns (what was
    done, status before) per asset, the refused one "failed" and the writes after it "not tried",
    and the refusal (None when there was none)."""
    done: list[tuple[str, Status]] = []
    for i, (verb, status) in enumerate(steps):
        if verb in WRITES:
            try:
                put(client, status.asset)
            except ApiError as exc:
                done.append(("failed", status))
                done += [("not tried" if v in WRITES else v, s) for v, s in steps[i + 1:]]
                return done, exc
        done.append((verb, status))
    return done, None


def not_read_error(steps: list[tuple[str, Status]]) -> UnavailableError | None:
    """The error of a setup that could not read some of its assets, so neither compared nor
    installed them, nor what needs them (None when it read them all)."""
    unread = [s for _, s in steps if s.state == "unreadable"]
    if not unread:
        return None
    which = ", ".join(f"{s.asset.label} ({s.answer})" for s in unread)
    message = (f"setup could not read {len(unread)} of its {len(steps)} assets, "
               f"so it neither checked nor installed them: {which}")
    held = [s.asset.label for verb, s in steps if verb == "held"]
    if held:
        message += f"; nor did it install the {len(held)} that need them: {', '.join(held)}"
    refused = sorted({PRIVILEGE[s.asset.kind] for s in unread if s.answer == 403})
    if refused:
        return UnavailableError(f"{message}; Elasticsearch refused them to these credentials (403 Forbidden: "
                                f"they lack {' and '.join(refused)})", hint=PRIVILEGES_HINT)
    return UnavailableError(message, hint="the lines above say why; run setup again once Elasticsearch answers")


def install_error(exc: ApiError, status: Status, where: str) -> UnavailableError:
    """The error of a write Elasticsearch refused (``status``'s asset): what, why, and the fix."""
    asset = status.asset
    error = unavailable(exc, where, doing="install its templates, ILM policy and pipelines")
    if exc.meta.status == 403:  # (the general hint names the shipper's own role, which may not do this)
        error.message += f"; {asset.label} needs the cluster privilege {PRIVILEGE[asset.kind]}"
        error.hint = PRIVILEGES_HINT
        return error
    others = _SAME_PRIORITY.search(error_reason(exc.body))
    if others is None or asset.kind != "index_template":
        return error
    theirs = others.group(1).split(",")
    one = len(theirs) == 1
    who, them = ", ".join(theirs), "it" if one else "them"
    patterns, priority = ", ".join(asset.body.get("index_patterns", [])), asset.body.get("priority", 0)
    return UnavailableError(
        f"Elasticsearch at {where} refused {asset.label}: the index template{'' if one else 's'} {who} already "
        f"match{'es' if one else ''} its index patterns ({patterns}) with the same priority ({priority}), and "
        "Elasticsearch lets only one template of a priority match an index",
        hint=f"give {who} a priority below {priority} (so that shipper's template applies to its data streams) or "
             f"index_patterns that do not match {patterns}, or delete {them} if nothing uses {them} "
             f"({'; '.join(f'DELETE {PATHS[asset.kind]}/{t}' for t in theirs)}); then run `shipper setup` again")
