"""The README's example of `shipper causes` is what `make demo` prints (wrapped by hand there):
the demo's replay and causes through the CLI, compared with the README's text."""

from __future__ import annotations

import re
from pathlib import Path

from tests.helpers.cli import shipper_out

ROOT = Path(__file__).resolve().parents[2]



def _run(home: Path, *argv: str) -> str:
    return shipper_out(home, *argv)


def test_the_readme_shows_what_the_demo_prints(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    _run(tmp_path, "replay", "--store", str(db), "--timezone", "UTC", "--year", "2017", str(ROOT / "demo" / "logs"))
    printed = _run(tmp_path, "causes", "--store", str(db)).splitlines()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"For the field report's lines `shipper causes` prints.*?\n```\n(.*?)```", readme, re.DOTALL)
    assert found is not None
    headline, _, rest = found.group(1).partition("\n    remediation: ")
    assert " ".join(headline.split("\n")).strip() == printed[0]
    assert rest.endswith(" …\n") and printed[1].startswith("    remediation: " + rest[: -len(" …\n")])
