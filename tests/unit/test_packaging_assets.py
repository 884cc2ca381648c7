"""The unit and the example config as package data (`print-unit`, `print-config`), and
`shipper validate`, the offline config check the fleet role runs before installing a config."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from shipper.commands import print_config, print_unit, validate
from shipper.env import Env
from shipper.errors import ConfigError, ExitCode

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PACKAGED = ROOT / "shipper" / "assets" / "deploy"


@pytest.mark.parametrize("name", ["shipper.service", "shipper.yml"])
def test_the_wheel_copies_are_the_deploy_files(name: str) -> None:
    assert (DEPLOY / name).exists(), f"deploy/{name} is missing"
    assert (PACKAGED / name).read_bytes() == (DEPLOY / name).read_bytes(), (
        f"shipper/assets/deploy/{name} differs from deploy/{name}, the source: run make assets")


def test_print_unit_and_print_config_print_the_packaged_files(env: Env) -> None:
    assert print_unit.run(argparse.Namespace(), env) == ExitCode.OK
    assert env.stdout.getvalue() == (PACKAGED / "shipper.service").read_text()  # type: ignore[attr-defined]
    env.stdout.seek(0)
    env.stdout.truncate()
    assert print_config.run(argparse.Namespace(), env) == ExitCode.OK
    assert env.stdout.getvalue() == (PACKAGED / "shipper.yml").read_text()  # type: ignore[attr-defined]


def test_the_example_config_is_valid(env: Env) -> None:
    pytest.importorskip("systemd.journal", reason="validate plans the journal input as run does: systemd-python")
    assert validate.run(argparse.Namespace(config=DEPLOY / "shipper.yml"), env) == ExitCode.OK
    assert env.stdout.getvalue().startswith(f"config valid: {DEPLOY / 'shipper.yml'}\n")  # type: ignore[attr-defined]


def test_validate_summarises_a_valid_config(env: Env, tmp_path: Path) -> None:
    pytest.importorskip("systemd.journal", reason="validate plans the journal input as run does: systemd-python")
    cfg = tmp_path / "shipper.yml"
    cfg.write_text("inputs:\n  - type: journal\n  - type: file\n    paths: [/var/log/maillog]\n"
                   "output:\n  elasticsearch:\n    hosts: [https://es1.example:9200]\n"
                   "    api_key_file: /run/credentials/shipper.service/es_api_key\n")
    assert validate.run(argparse.Namespace(config=cfg), env) == ExitCode.OK
    out = env.stdout.getvalue()  # type: ignore[attr-defined]
    assert "inputs: journal, file\n" in out and "outputs: elasticsearch\n" in out
    assert "state directory: /var/lib/shipper\n" in out


def test_validate_names_the_line_and_key_of_a_mistake(env: Env, tmp_path: Path) -> None:
    cfg = tmp_path / "shipper.yml"
    cfg.write_text("inputs:\n  - type: journal\noutput:\n  elasticsearch:\n    namespace: Prod-EU\n")
    with pytest.raises(ConfigError) as err:
        validate.run(argparse.Namespace(config=cfg), env)
    assert err.value.exit_code == ExitCode.CONFIG
    assert f"{cfg}:4" in err.value.message and "namespace 'Prod-EU' is not valid" in err.value.message
    assert env.stdout.getvalue() == ""  # type: ignore[attr-defined]


def test_validate_reports_a_missing_file_as_a_config_error(env: Env, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file .*nope.yml"):
        validate.run(argparse.Namespace(config=tmp_path / "nope.yml"), env)
