"""``rootcause.dependency`` (a dependency failure's: the unit it depended on, which failed just
before it; shipper.enrich.nearby) was written but neither mapped nor in docs/fields.md: with the
index's ``dynamic: false`` it was stored but could not be searched or aggregated on. It is a keyword,
as ``rootcause.unit`` is, documented, and the component template that maps it has a new version
(so that `shipper setup` upgrades the installed one).

(The corpus test in test_es_assets.py does not see it: no corpus log names a failed dependency.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from helpers.samples import DATA, enrich_all, parse_paths
from shipper.setup.assets import load_assets

ROOT = Path(__file__).resolve().parents[2]
TESTER = DATA / "tester" / "sysd.log"


def _rootcause_mapping() -> dict[str, Any]:
    (asset,) = [a for a in load_assets() if a.name == "logs-shipper@recognition"]
    assert asset.version >= 2  # v1 was installed without rootcause.dependency
    props: dict[str, Any] = asset.body["template"]["mappings"]["properties"]["rootcause"]["properties"]
    return props


def test_the_dependency_a_replay_writes_is_mapped_and_documented_as_the_unit_is() -> None:
    docs = enrich_all(parse_paths([TESTER], year=2017))
    written = {d["rootcause"]["dependency"] for d in docs if "dependency" in d.get("rootcause", {})}
    assert written == {"data.mount"}, written
    mapping = _rootcause_mapping()
    assert mapping["dependency"] == mapping["unit"] == {"type": "keyword"}
    assert "`rootcause.dependency` (keyword;" in (ROOT / "docs" / "fields.md").read_text()
