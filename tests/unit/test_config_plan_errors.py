"""What the daemon's plan refuses (inputs that would share a checkpoint, a format it cannot follow,
run.metrics without prometheus-client) is a configuration error that names the file, the line and
the key, from `shipper validate` as from `shipper run`, before anything is started or written."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from shipper.cli import main
from shipper.env import Env
from shipper.errors import ExitCode

TWICE = """\
state_dir: {state}
inputs:
  - type: file
    paths: [/var/log/maillog]
  - type: file
    paths: [/var/log/maillog]
"""
EXPORT = """\
state_dir: {state}
inputs:
  - type: file
    paths: [/var/log/journal.export]
    format: journal-export
"""
METRICS = """\
state_dir: {state}
inputs: [{{type: file, paths: [/var/log/maillog]}}]
run:
  metrics: {{listen: 127.0.0.1:9464}}
"""


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "shipper.yml"
    path.write_text(text.format(state=tmp_path / "state"))
    return path


def _stderr(env: Env) -> str:
    return env.stderr.getvalue()  # type: ignore[attr-defined]


@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.parametrize(("text", "said", "fix"), [
    (TWICE, r":5: inputs\[1\]: would share the checkpoint '[^']+' with inputs\[0\] \(line 3\)", "another name"),
    (EXPORT, r":5: inputs\[0\]\.format: journal-export files cannot be followed", "`shipper replay`"),
], ids=["shared checkpoint", "format run cannot follow"])
def test_a_plan_error_names_the_file_and_the_line_of_the_input(
    env: Env, tmp_path: Path, command: str, text: str, said: str, fix: str
) -> None:
    path = _config(tmp_path, text)
    assert main([command, "--config", str(path)], env) == ExitCode.CONFIG
    stderr = _stderr(env)
    assert re.search(f"shipper: error: {re.escape(str(path))}{said}", stderr), stderr
    assert fix in stderr and env.stdout.getvalue() == ""  # type: ignore[attr-defined]
    assert not (tmp_path / "state").exists()


@pytest.mark.parametrize("command", ["validate", "run"])
def test_metrics_without_prometheus_client_is_refused_by_validate_as_by_run(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # `import prometheus_client` fails: not installed
    path = _config(tmp_path, METRICS)
    assert main([command, "--config", str(path)], env) == ExitCode.CONFIG
    stderr = _stderr(env)
    assert f"shipper: error: {path}:4: run.metrics: needs prometheus-client, which is not installed" in stderr
    assert "pip install 'shipper[metrics]', or remove run.metrics" in stderr
    assert not (tmp_path / "state").exists()


def test_metrics_with_prometheus_client_is_valid(env: Env, tmp_path: Path) -> None:
    pytest.importorskip("prometheus_client")
    path = _config(tmp_path, METRICS)
    assert main(["validate", "--config", str(path)], env) == ExitCode.OK, _stderr(env)
    assert f"config valid: {path}" in env.stdout.getvalue()  # type: ignore[attr-defined]
