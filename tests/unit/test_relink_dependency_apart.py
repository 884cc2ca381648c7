"""A "Dependency failed for Local File Systems." stored by one replay and the failure of the unit it
follows (``data.mount``) stored by another were not joined at read time: `relink` linked them
again but never looked for the failed dependency, which the run that stores both names. Read from
one store, two replays now show what one replay of both shows: one incident, the dependency
failures its consequences, their hint naming data.mount (`causes` and `report`)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from shipper.cli import main
from shipper.enrich.relink import relink
from shipper.env import Env
from shipper.sinks.local import LocalStore

TESTER = Path(__file__).resolve().parents[1] / "data" / "tester" / "sysd.log"


def _env() -> Env:
    return Env(stdin=io.BytesIO(), stdout=io.StringIO(), stderr=io.StringIO(), environ={"TZ": "UTC"})


def _app3(tmp_path: Path) -> tuple[Path, Path, Path]:
    """The tester's failed mount on app3: the dependency lines, the mount's lines, and both."""
    lines = [line for line in TESTER.read_text().splitlines(keepends=True) if " app3 " in line]
    assert "Dependency failed for Local File Systems." in lines[0] and "data.mount" in lines[2]
    parts = []
    for name, part in (("dependency.log", lines[:2]), ("mount.log", lines[2:]), ("both.log", lines)):
        (tmp_path / name).write_text("".join(part))
        parts.append(tmp_path / name)
    return parts[0], parts[1], parts[2]


def _store(path: Path, *logs: Path) -> Path:
    for log in logs:
        assert main(["replay", "--quiet", "--store", str(path), "--year", "2017", "--timezone", "UTC", str(log)],
                    _env()) == 0
    return path


def _causes(store: Path) -> dict[str, Any]:
    env = _env()
    assert main(["causes", "--store", str(store), "--format", "json"], env) == 0
    out: dict[str, Any] = json.loads(env.stdout.getvalue())  # type: ignore[attr-defined]
    return out


def test_two_replays_read_as_one(tmp_path: Path) -> None:
    dependency, mount, both = _app3(tmp_path)
    apart = _store(tmp_path / "apart.db", dependency, mount)
    together = _store(tmp_path / "together.db", both)
    [incident] = _causes(apart)["incidents"]
    assert incident == _causes(together)["incidents"][0]
    assert incident["unit"] == "data.mount" and incident["events"] == 5  # (with "Failed to mount /data.", a start_failed since session 16)
    assert incident["consequences"]
    for name in ("apart", "together"):
        env = _env()
        page = tmp_path / f"{name}.html"
        assert main(["report", "--store", str(tmp_path / f"{name}.db"), "-o", str(page)], env) == 0
        assert "report: 1 incident from" in env.stderr.getvalue()  # type: ignore[attr-defined]


def test_name_dependencies_names_the_unit_and_its_texts(tmp_path: Path) -> None:
    from shipper.enrich.relink import name_dependencies  # noqa: PLC0415 (the other test runs without it)

    dependency, mount, both = _app3(tmp_path)
    apart = LocalStore(_store(tmp_path / "apart.db", dependency, mount), read_only=True)
    together = LocalStore(_store(tmp_path / "together.db", both), read_only=True)
    try:
        stored = list(apart.iter_docs(only_recognised=True))
        expected = relink(together.iter_docs(only_recognised=True))
    finally:
        apart.close()
        together.close()
    lacking = [d for d in stored if d["rootcause"]["signature"] == "systemd.dependency_failed"]
    assert len(lacking) == 2 and not any("dependency" in d["rootcause"] for d in lacking)
    assert "this line does not say which" in lacking[0]["rootcause"]["hint"]
    assert name_dependencies(stored) == 2
    assert all(d["rootcause"]["dependency"] == "data.mount" for d in lacking)
    assert "data.mount" in lacking[0]["rootcause"]["hint"]
    assert name_dependencies(stored) == 0  # named now: nothing more to do
    assert [d["rootcause"] for d in relink(stored)] == [d["rootcause"] for d in expected]
