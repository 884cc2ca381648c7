"""``output.elasticsearch.max_item_retries`` below 0 is a configuration error (exit 3) that names the
key, the value and what it means, as `shipper validate` and `shipper run` (a real process) say it;
0 is valid (a failed item goes to the dead letter at once)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from shipper.errors import ExitCode
from tests.helpers.daemon import ROOT

SAID = ("output.elasticsearch: max_item_retries must be 0 or more, not -1: it is how many times a document whose "
        "item failed with a 5xx is sent again (0: to the dead letter at once)")


def _shipper(tmp_path: Path, command: str, retries: int) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "shipper.yml"
    path.write_text(f"state_dir: {tmp_path / 'state'}\ninputs:\n  - type: file\n    paths: [{tmp_path / 'messages'}]\n"
                    f"output:\n  elasticsearch:\n    hosts: [http://127.0.0.1:1]\n    max_item_retries: {retries}\n")
    return subprocess.run([sys.executable, "-m", "shipper", command, "--config", str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=30, env={"PATH": "/usr/bin:/bin", "TZ": "UTC"})


@pytest.mark.parametrize("command", ["validate", "run"])
def test_h7_a_negative_max_item_retries_is_a_config_error_naming_the_key(tmp_path: Path, command: str) -> None:
    done = _shipper(tmp_path, command, -1)
    assert done.returncode == ExitCode.CONFIG, done.stderr
    assert f"shipper.yml:6: {SAID}\n" in done.stderr, done.stderr
    assert not (tmp_path / "state").exists()


def test_h7_zero_max_item_retries_is_valid(tmp_path: Path) -> None:
    done = _shipper(tmp_path, "validate", 0)
    assert done.returncode == ExitCode.OK and done.stdout.startswith("config valid: "), done.stderr
