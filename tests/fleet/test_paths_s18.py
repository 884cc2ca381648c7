"""Paths as an operator gives them: the state in /var/lib/private/shipper (where systemd keeps
StateDirectory= with DynamicUser=yes), a state directory and a log directory reached through
symlinks, and a configuration shipper refuses told against /etc/shipper/shipper.yml. Played as in
tests/fleet/test_lifecycle.py (a copy of the cached Debian 12 root, the chroot connection).

Slow: about a minute and a half (one install, then three plays on the installed host).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.helpers.fleet import copy_root, recap
from tests.helpers.fleet_deploy import Wheel, ok, played

pytestmark = pytest.mark.slow

JOURNAL = {"type": "journal", "name": "journal"}
CONFIG = "etc/shipper/shipper.yml"


class Plays(NamedTuple):
    root: Path
    through_links: subprocess.CompletedProcess[str]
    config_through_links: str
    private: subprocess.CompletedProcess[str]
    config_private: str
    forbidden: subprocess.CompletedProcess[str]
    refused: subprocess.CompletedProcess[str]
    config_after: str


def link(root: Path, place: str, target: str) -> None:
    where = root / place.lstrip("/")
    where.parent.mkdir(parents=True, exist_ok=True)
    where.symlink_to(target)


def systemd_state(root: Path) -> None:
    """/var/lib as systemd 252 leaves it once a DynamicUser= unit with StateDirectory=shipper ran."""
    private = root / "var/lib/private"
    (private / "shipper").mkdir(parents=True)
    os.chmod(private, 0o700)
    link(root, "/var/lib/shipper", "private/shipper")


@pytest.fixture(scope="module")
def plays(pristine: Path, wheel: Wheel, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plays]:
    work = tmp_path_factory.mktemp("paths")
    root = copy_root(pristine, work / "root")
    home = work / "home"
    systemd_state(root)
    link(root, "/srv/shipper", "/var/lib/shipper")  # the state reached through a symlink
    (root / "data/log/app").mkdir(parents=True)
    link(root, "/var/log/app", "../../data/log/app")  # the logs on another disk
    (root / "home/app/logs").mkdir(parents=True)
    link(root, "/var/log/homeapp", "/home/app/logs")  # logs where the unit hides them
    through = played(root, wheel, home, shipper_config_extra={"state_dir": "/srv/shipper"},
                     shipper_inputs=[JOURNAL, {"type": "file", "name": "app", "paths": ["/var/log/app/*.log"]}])
    config_through = (root / CONFIG).read_text() if through.returncode == 0 else ""
    private = played(root, wheel, home, shipper_config_extra={"state_dir": "/var/lib/private/shipper"})
    config_private = (root / CONFIG).read_text() if private.returncode == 0 else ""
    forbidden = played(root, wheel, home, shipper_config_extra={"state_dir": "/var/lib/private/other"},
                       shipper_inputs=[JOURNAL, {"type": "file", "name": "app", "paths": ["/var/log/homeapp/*.log"]}])
    refused = played(root, wheel, home, shipper_config_extra={"parse": {"timezon": "UTC"}})
    config_after = (root / CONFIG).read_text() if (root / CONFIG).exists() else ""
    yield Plays(root, through, config_through, private, config_private, forbidden, refused, config_after)
    shutil.rmtree(root)


def test_a_state_dir_and_a_log_directory_given_through_symlinks_are_accepted(plays: Plays) -> None:
    """/srv/shipper leads to /var/lib/private/shipper, /var/log/app to /data/log/app: shipper writes
    and reads there under its unit, so the role installs them."""
    ok(plays.through_links)
    assert "state_dir: /srv/shipper" in plays.config_through_links
    assert "/var/log/app/*.log" in plays.config_through_links


def test_the_state_in_var_lib_private_shipper_is_accepted(plays: Plays) -> None:
    ok(plays.private)
    assert "state_dir: /var/lib/private/shipper" in plays.config_private


def test_what_the_unit_would_not_let_shipper_reach_is_refused_naming_the_variable_and_the_fix(plays: Plays) -> None:
    """Another unit's private state directory is not in shipper's view; a symlink into /home is one
    it cannot pass through (ProtectHome=yes). Nothing is written: the last good configuration stays."""
    out = plays.forbidden.stdout
    assert plays.forbidden.returncode != 0 and recap(out)["failed"] == 1, out[-4000:]
    assert ("shipper_config_extra: state_dir is /var/lib/private/other, where the unit does not let shipper write"
            in out), out[-4000:]
    assert "mount that disk at /var/lib/private/shipper" in out
    assert ("shipper_inputs: inputs[1].paths[0] is /var/log/homeapp/*.log, which leads to /home/app/logs/*.log "
            "through the symlink /var/log/homeapp, which the unit hides from shipper (ProtectHome=yes" in out), out[-4000:]


def test_a_configuration_shipper_refuses_is_told_against_its_destination_and_variable(plays: Plays) -> None:
    out = plays.refused.stdout
    assert plays.refused.returncode != 0 and recap(out)["failed"] == 1, out[-4000:]
    assert ("shipper_config_extra: shipper validate refused the configuration for /etc/shipper/shipper.yml: "
            "/etc/shipper/shipper.yml:" in out), out[-4000:]
    assert "parse.timezon: unknown key; did you mean 'timezone'?" in out, out[-4000:]
    assert "Fix shipper_config_extra in the inventory" in out
    assert ".source.yml" not in out and "ansible-tmp" not in out, out[-4000:]  # the rendered temporary file
    assert plays.config_after == plays.config_private  # the refused one was not written
