"""The Elasticsearch assets shipper installs: ILM policy, ingest pipelines, component and index templates.

They are data files, each exactly the body of its ``PUT`` request (so an operator can also install
them with curl), named after the object: ``mappings/<kind>/<name>.json`` and
``pipelines/<id>.json``. The wheel carries them under ``shipper/assets/``; the top-level
``mappings/`` and ``pipelines/`` of the source tree are the same files (a test keeps them equal).
Every asset carries ``_meta: {managed_by: shipper, version: N}``: `shipper setup` compares versions.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any, Literal

Kind = Literal["ilm_policy", "ingest_pipeline", "component_template", "index_template"]

# Install order: what a later asset refers to exists first.
KINDS: tuple[tuple[Kind, str, str], ...] = (
    ("ilm_policy", "mappings/ilm_policies", "ILM policy"),
    ("ingest_pipeline", "pipelines", "ingest pipeline"),
    ("component_template", "mappings/component_templates", "component template"),
    ("index_template", "mappings/index_templates", "index template"),
)
LABELS: dict[str, str] = {kind: label for kind, _, label in KINDS}
MANAGED_BY = "shipper"
DAY = 86400


@dataclass(frozen=True)
class Asset:
    kind: Kind
    name: str
    body: dict[str, Any]

    @property
    def label(self) -> str:
        return f"{LABELS[self.kind]} {self.name}"

    @property
    def meta(self) -> dict[str, Any]:
        return meta_of(self.kind, self.body)

    @property
    def version(self) -> int:
        return int(self.meta.get("version", 0))


def meta_of(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """``_meta`` of an asset body (an ILM policy keeps it inside ``policy``)."""
    holder = body.get("policy", {}) if kind == "ilm_policy" else body
    meta = holder.get("_meta") if isinstance(holder, dict) else None
    return meta if isinstance(meta, dict) else {}


def asset_root() -> Traversable:
    return resources.files("shipper") / "assets"


def load_assets(retention_seconds: float = 30 * DAY) -> list[Asset]:
    """Every asset in install order, the ILM policy's delete phase set to ``retention_seconds``."""
    out: list[Asset] = []
    root = asset_root()
    for kind, folder, _ in KINDS:
        directory = root.joinpath(*folder.split("/"))
        for entry in sorted(directory.iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".json"):
                body = json.loads(entry.read_text(encoding="utf-8"))
                if kind == "ilm_policy":
                    body = with_retention(body, retention_seconds)
                out.append(Asset(kind, entry.name[: -len(".json")], body))
    return out


def with_retention(body: dict[str, Any], seconds: float) -> dict[str, Any]:
    """The ILM policy deleting data ``seconds`` after rollover (rollover at most every 7 days)."""
    days = max(1, round(seconds / DAY))
    body = copy.deepcopy(body)
    policy = body["policy"]
    policy["_meta"]["retention"] = f"{days}d"
    policy["phases"]["delete"]["min_age"] = f"{days}d"
    policy["phases"]["hot"]["actions"]["rollover"]["max_age"] = f"{min(days, 7)}d"
    return body
