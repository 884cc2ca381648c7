"""A play that fails half-way, and a configuration the unit's sandbox would not run: played as in
tests/fleet/test_lifecycle.py (a copy of the cached Debian 12 root, the chroot connection, no
systemd running: handlers are seen notified).

Slow: about a minute.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.helpers.fleet import copy_root, recap
from tests.helpers.fleet_deploy import (
    API_KEY, RESTART, RESTART_PENDING, Wheel, handlers_run, installed_code, nothing_installed, ok, played, rebuilt)

pytestmark = pytest.mark.slow

REFUSED = {"parse": {"timezon": "UTC"}}  # shipper validate: unknown key, did you mean 'timezone'?


class Interrupted(NamedTuple):
    root: Path
    failed: subprocess.CompletedProcess[str]
    code_after_failure: str
    pending_after_failure: bool
    preview: subprocess.CompletedProcess[str]
    pending_after_preview: bool
    fixed: subprocess.CompletedProcess[str]
    again: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def interrupted(pristine: Path, wheel: Wheel, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Interrupted]:
    """An installed host given a new build with a configuration shipper refuses, previewed, then
    played with the configuration fixed, and played once more."""
    work = tmp_path_factory.mktemp("interrupted")
    root = copy_root(pristine, work / "root")
    home = work / "home"
    ok(played(root, wheel, home))
    new_build = rebuilt(wheel, work / "rebuild", "NEW_BUILD = 1")
    failed = played(root, new_build, home, shipper_config_extra=REFUSED)
    code, pending = installed_code(root), (root / RESTART_PENDING).exists()
    fixed_config = {"shipper_elasticsearch_namespace": "prod"}
    preview = played(root, new_build, home, "--check", **fixed_config)
    pending_after_preview = (root / RESTART_PENDING).exists()
    fixed = ok(played(root, new_build, home, **fixed_config))
    again = ok(played(root, new_build, home, **fixed_config))
    yield Interrupted(root, failed, code, pending, preview, pending_after_preview, fixed, again)
    shutil.rmtree(root)


def test_a_play_refused_after_a_new_wheel_leaves_the_restart_recorded_on_the_host(interrupted: Interrupted) -> None:
    """The failed play's handlers are lost with it: the old code keeps running from memory."""
    out = interrupted.failed.stdout
    assert interrupted.failed.returncode != 0 and recap(out)["failed"] == 1, out[-4000:]
    assert "unknown key" in out and "timezon" in out, out[-4000:]  # it failed at shipper validate
    assert "NEW_BUILD = 1" in interrupted.code_after_failure
    assert handlers_run(out) == []
    assert interrupted.pending_after_failure


def test_check_mode_previews_the_pending_restart_and_keeps_its_record(interrupted: Interrupted) -> None:
    assert interrupted.preview.returncode == 0, interrupted.preview.stdout[-4000:]
    assert handlers_run(interrupted.preview.stdout)[:2] == RESTART
    assert interrupted.pending_after_preview


def test_the_next_play_that_succeeds_restarts_instead_of_only_reloading(interrupted: Interrupted) -> None:
    """Only the configuration changes in this play; the restart is the failed play's. (Notified
    with it, "Reload shipper" skips itself once shipper has restarted: see the role's handlers.)"""
    out = interrupted.fixed.stdout
    assert handlers_run(out)[:2] == RESTART, out[-4000:]
    assert "namespace: prod" in (interrupted.root / "etc/shipper/shipper.yml").read_text()
    assert not (interrupted.root / RESTART_PENDING).exists()
    assert recap(interrupted.again.stdout)["changed"] == 0, interrupted.again.stdout[-4000:]
    assert handlers_run(interrupted.again.stdout) == []


def test_settings_the_units_sandbox_forbids_stop_the_play_before_anything_is_installed(
        fresh: Path, wheel: Wheel, tmp_path: Path) -> None:
    """shipper validate accepts each of them (run.metrics once the metrics extra is installed); the
    service would then fail at its start, or find no file to read."""
    extra = {"state_dir": "/srv/shipper", "output": {"ndjson": {"path": "/srv/events.ndjson"}},
             "run": {"metrics": {"listen": "0.0.0.0:80"}}}
    inputs = [{"type": "journal", "name": "journal"}, {"type": "file", "name": "app", "paths": ["/home/app/*.log"]}]
    proc = played(fresh, wheel, tmp_path / "home", shipper_config_extra=extra, shipper_inputs=inputs)
    out = proc.stdout
    assert proc.returncode != 0 and recap(out)["failed"] == 1, out[-4000:]
    assert "shipper would not run under its unit" in out, out[-4000:]
    for told in ("shipper_config_extra: state_dir is /srv/shipper, where the unit does not let shipper write",
                 "shipper_config_extra: output.ndjson.path is /srv/events.ndjson",
                 "shipper_config_extra: run.metrics.listen is 0.0.0.0:80",
                 "shipper_inputs: inputs[1].paths[0] is /home/app/*.log, which the unit hides from shipper"):
        assert told in out, out[-4000:]
    assert API_KEY not in out + proc.stderr
    nothing_installed(fresh)
