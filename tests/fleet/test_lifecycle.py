"""An installed host's life under the role, as an operator runs it: a rebuilt wheel of the same
version, an upgrade, a configuration change, a preview in check mode; and a new host previewed, or
played with a misspelt variable. Each host is a copy of the cached Debian 12 root, played as in
tests/fleet/test_install.py (the chroot connection, no systemd running: handlers are seen notified).

Slow: about a minute on top of test_install.py's host.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.helpers.fleet import copy_root, in_root, recap
from tests.helpers.fleet_deploy import (
    API_KEY, RESTART, RESTART_PENDING, SITE_PACKAGES, UNIT, Wheel, handlers_run, installed_code, nothing_installed,
    ok, played, rebuilt)

pytestmark = pytest.mark.slow

CHECKPOINT = "var/lib/private/shipper/checkpoints.sqlite"  # where systemd keeps StateDirectory= (DynamicUser=)
NEW_KEY = "cm90YXRlZDprZXktdGhhdC1tdXN0LW5vdC1sZWFrLWVpdGhlcg=="


class Life(NamedTuple):
    root: Path
    rebuild: subprocess.CompletedProcess[str]
    rebuilt_code: str
    rebuild_again: subprocess.CompletedProcess[str]
    upgrade: subprocess.CompletedProcess[str]
    upgraded: Wheel
    reconfigure: subprocess.CompletedProcess[str]
    preview: subprocess.CompletedProcess[str]
    files_before_preview: dict[str, bytes]


def snapshot(root: Path) -> dict[str, bytes]:
    paths = ["etc/shipper/shipper.yml", "etc/shipper/es_api_key", UNIT,
             "etc/systemd/system/shipper.service.d/credentials.conf", f"{SITE_PACKAGES}/shipper/__init__.py"]
    return {p: (root / p).read_bytes() for p in paths}


@pytest.fixture(scope="module")
def life(pristine: Path, wheel: Wheel, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Life]:
    work = tmp_path_factory.mktemp("life")
    root = copy_root(pristine, work / "root")
    home = work / "home"
    ok(played(root, wheel, home))
    (root / CHECKPOINT).parent.mkdir(parents=True)
    (root / CHECKPOINT).write_bytes(b"checkpoints of the running daemon")
    same_version = rebuilt(wheel, work / "rebuild", "REBUILT = 1")
    rebuild = ok(played(root, same_version, home))
    rebuilt_code = installed_code(root)
    rebuild_again = ok(played(root, same_version, home))
    upgraded = rebuilt(wheel, work / "upgrade", "UPGRADED = 1", version=wheel.path.name.split("-")[1] + ".post1")
    upgrade = ok(played(root, upgraded, home))
    reconfigure = ok(played(root, upgraded, home, shipper_elasticsearch_namespace="prod"))
    before = snapshot(root)
    preview = played(root, rebuilt(wheel, work / "next", "NEXT = 1", version="99.0"), home, "--check", "--diff",
                     shipper_elasticsearch_namespace="staging", shipper_elasticsearch_api_key=NEW_KEY)
    yield Life(root, rebuild, rebuilt_code, rebuild_again, upgrade, upgraded, reconfigure, preview, before)
    shutil.rmtree(root)


def test_a_rebuild_of_the_installed_version_is_installed_and_restarts_shipper(life: Life) -> None:
    """The version stays 0.1.0 from build to build: pip alone keeps the old build in place."""
    assert "REBUILT = 1" in life.rebuilt_code
    assert handlers_run(life.rebuild.stdout) == RESTART
    assert not (life.root / RESTART_PENDING).exists()
    assert recap(life.rebuild_again.stdout)["changed"] == 0, life.rebuild_again.stdout[-4000:]


def test_an_upgrade_is_installed_restarts_shipper_and_keeps_the_state(life: Life) -> None:
    version = in_root(life.root, "shipper", "--version").stdout.strip()
    assert version == f"shipper {life.upgraded.path.name.split('-')[1]}"
    assert "UPGRADED = 1" in installed_code(life.root)
    assert "Restart shipper" in handlers_run(life.upgrade.stdout)
    assert (life.root / CHECKPOINT).read_bytes() == b"checkpoints of the running daemon"


def test_a_configuration_change_reloads_shipper_instead_of_restarting_it(life: Life) -> None:
    """A reload checks the new configuration and its output and keeps the old one if they fail;
    a restart would stop a running daemon for a configuration that then cannot start."""
    assert recap(life.reconfigure.stdout)["changed"] == 1, life.reconfigure.stdout[-4000:]
    assert handlers_run(life.reconfigure.stdout) == ["Reload shipper"]
    assert "namespace: prod" in (life.root / "etc/shipper/shipper.yml").read_text()


def test_check_mode_previews_an_installed_host_truly_and_changes_nothing(life: Life) -> None:
    out = life.preview.stdout
    assert life.preview.returncode == 0, out[-6000:]
    assert snapshot(life.root) == life.files_before_preview
    assert not (life.root / RESTART_PENDING).exists()  # the restart it previews is not recorded
    assert "+    namespace: staging" in out  # the configuration's diff
    # the unit and the drop-in, read from the installed shipper, are unchanged (not shown emptied)
    assert "after: /etc/systemd/system/shipper.service" not in out, out[-6000:]
    assert "after: /etc/systemd/system/shipper.service.d/credentials.conf" not in out, out[-6000:]
    assert "Reinstall shipper" in out and "Restart shipper" in handlers_run(out)
    assert NEW_KEY not in out + life.preview.stderr and API_KEY not in out + life.preview.stderr


def test_check_mode_on_a_new_host_says_it_installs_there_and_stops(fresh: Path, wheel: Wheel, tmp_path: Path) -> None:
    proc = played(fresh, wheel, tmp_path / "home", "--check")
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert "shipper is not installed on this host: a real run installs it" in proc.stdout
    nothing_installed(fresh)


def test_a_misspelt_variable_stops_the_play_before_anything_is_installed(
        fresh: Path, wheel: Wheel, tmp_path: Path) -> None:
    proc = played(fresh, wheel, tmp_path / "home", shipper_elasticsearch_apikey=API_KEY)
    assert proc.returncode != 0 and recap(proc.stdout)["failed"] == 1
    assert "unknown variable(s) shipper_elasticsearch_apikey" in proc.stdout, proc.stdout[-3000:]
    assert API_KEY not in proc.stdout + proc.stderr  # a misspelt secret's name is told, not its value
    nothing_installed(fresh)
