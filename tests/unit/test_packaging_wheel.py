"""The wheel works on its own: built by scripts/build-dist, installed into a fresh venv outside
the repository, run from a directory that is not the checkout."""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from shipper import __version__
from tests.helpers.fleet import ROOT, build_dist, fresh_venv, pip_install, unregistered_commands

SEED_LOG = ROOT / "tests" / "data" / "seed" / "messages-sendmail.log"


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    out = tmp_path_factory.mktemp("dist")
    return out, build_dist(out)


@pytest.fixture(scope="module")
def installed(dist: tuple[Path, dict[str, str]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin directory of a venv (in the pytest tmp area) with only the wheel installed."""
    out, sums = dist
    wheel = next(n for n in sums if n.endswith(".whl"))
    bin_dir = fresh_venv(tmp_path_factory.mktemp("venv") / "shipper")
    pip_install(bin_dir, str(out / wheel))
    return bin_dir


def shipper(bin_dir: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(cwd), "LANG": "C.UTF-8", "TZ": "UTC"}
    return subprocess.run([str(bin_dir / "shipper"), *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300)


def test_build_dist_writes_a_wheel_an_sdist_and_their_checksums(dist: tuple[Path, dict[str, str]]) -> None:
    out, sums = dist
    # The wheel carries the C reader of journal entries, so it is built for this Python and platform.
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    assert sorted(sums) == [f"shipper-{__version__}-{tag}-{tag}-linux_{platform.machine()}.whl",
                            f"shipper-{__version__}.tar.gz"]
    for name, digest in sums.items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest, name


def test_the_wheel_carries_every_data_file_of_the_package(dist: tuple[Path, dict[str, str]]) -> None:
    out, sums = dist
    wheel = next(n for n in sums if n.endswith(".whl"))
    names = set(zipfile.ZipFile(out / wheel).namelist())
    in_tree = {p.relative_to(ROOT).as_posix() for p in (ROOT / "shipper").rglob("*")
               if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".c", ".h")}
    assert in_tree - names == set(), "files of shipper/ missing from the wheel: fix the package-data globs"
    for extension in ("shipper/sources/_journalread.", "shipper/parse/_journaldoc.", "shipper/parallel/_express."):
        assert any(n.startswith(extension) and n.endswith(".so") for n in names), extension


def test_the_installed_wheel_runs_outside_the_checkout(installed: Path, tmp_path: Path) -> None:
    assert unregistered_commands() == [], "register these commands in shipper/cli.py COMMANDS"
    where = subprocess.run([str(installed / "python"), "-c", "import shipper; print(shipper.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path, check=True).stdout.strip()
    assert not where.startswith(str(ROOT)) and where.startswith(str(installed.parent))
    assert shipper(installed, tmp_path, "--version").stdout.strip() == f"shipper {__version__}"
    sigs = shipper(installed, tmp_path, "signatures")
    assert sigs.returncode == 0 and "sendmail.bind_address_in_use" in sigs.stdout
    unit = shipper(installed, tmp_path, "print-unit")
    assert unit.returncode == 0 and unit.stdout == (ROOT / "deploy" / "shipper.service").read_text()
    drop_in = shipper(installed, tmp_path, "print-unit", "--credentials")
    assert drop_in.returncode == 0
    assert drop_in.stdout == (ROOT / "deploy" / "shipper.service.d" / "credentials.conf").read_text()
    config = shipper(installed, tmp_path, "print-config")
    assert config.returncode == 0 and config.stdout == (ROOT / "deploy" / "shipper.yml").read_text()


def test_the_installed_wheel_replays_a_log_and_finds_the_cause(installed: Path, tmp_path: Path) -> None:
    log = Path(shutil.copy(SEED_LOG, tmp_path / "messages"))
    replay = shipper(installed, tmp_path, "replay", "--store", "events.db", "--timezone", "UTC", "--year", "2017",
                     "--quiet", str(log))
    assert replay.returncode == 0, replay.stderr
    causes = shipper(installed, tmp_path, "causes", "--store", "events.db")
    assert causes.returncode == 0, causes.stderr
    assert "sendmail.service failed (exit 71" in causes.stdout and "Address already in use" in causes.stdout
    assert (tmp_path / "events.db").exists()


PROBE = """
import json
from importlib import resources
from shipper.setup.assets import load_assets
from shipper.recognise.rules import load_rules
base = resources.files("shipper") / "assets"
print(json.dumps({
    "assets": sorted(a.name for a in load_assets()),
    "kibana": len((base / "kibana" / "shipper.ndjson").read_bytes()),
    "deploy": sorted(p.name for p in (base / "deploy").iterdir()),
    "page": sorted(p.name for p in (resources.files("shipper.report") / "page").iterdir()),
    "signatures": len(load_rules().signatures),
}))
"""


def test_setup_and_run_find_their_assets_in_the_installed_wheel(installed: Path, tmp_path: Path) -> None:
    from shipper.recognise.rules import load_rules
    from shipper.setup.assets import load_assets

    proc = subprocess.run([str(installed / "python"), "-c", PROBE], capture_output=True, text=True, cwd=tmp_path,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert found["assets"] == sorted(a.name for a in load_assets())  # same as the checkout's
    assert found["kibana"] == (ROOT / "kibana" / "shipper.ndjson").stat().st_size
    assert found["deploy"] == ["shipper.service", "shipper.service.d", "shipper.yml"]
    assert found["page"] == ["report.css", "report.html", "report.js"]
    assert found["signatures"] == len(load_rules().signatures) > 0
