"""The unit and the example config as package data (`print-unit`, `print-config`), and
`shipper validate`, the offline config check the fleet role runs before installing a config."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shipper.commands import print_config, print_unit, validate
from shipper.env import Env
from shipper.errors import ConfigError, ExitCode

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PACKAGED = ROOT / "shipper" / "assets" / "deploy"


@pytest.mark.parametrize("name", ["shipper.service", "shipper.service.d/credentials.conf", "shipper.yml"])
def test_the_wheel_copies_are_the_deploy_files(name: str) -> None:
    assert (DEPLOY / name).exists(), f"deploy/{name} is missing"
    assert (PACKAGED / name).read_bytes() == (DEPLOY / name).read_bytes(), (
        f"shipper/assets/deploy/{name} differs from deploy/{name}, the source: run make assets")


def test_print_unit_and_print_config_print_the_packaged_files(env: Env) -> None:
    assert print_unit.run(argparse.Namespace(credentials=False), env) == ExitCode.OK
    assert env.stdout.getvalue() == (PACKAGED / "shipper.service").read_text()  # type: ignore[attr-defined]
    env.stdout.seek(0)
    env.stdout.truncate()
    assert print_unit.run(argparse.Namespace(credentials=True), env) == ExitCode.OK
    assert env.stdout.getvalue() == (PACKAGED / "shipper.service.d" / "credentials.conf").read_text()  # type: ignore[attr-defined]
    env.stdout.seek(0)
    env.stdout.truncate()
    assert print_config.run(argparse.Namespace(), env) == ExitCode.OK
    assert env.stdout.getvalue() == (PACKAGED / "shipper.yml").read_text()  # type: ignore[attr-defined]


def credentials(text: str) -> list[str]:
    return re.findall(r"^\s*LoadCredential\s*=\s*(\S+)", text, re.M)


def test_the_unit_loads_no_credential_and_its_drop_in_loads_the_key() -> None:
    """systemd does not start a unit whose LoadCredential= file is missing (243/CREDENTIALS): the
    unit, installed on every host, loads none; the drop-in, installed with the key only, loads it."""
    assert credentials((DEPLOY / "shipper.service").read_text()) == []
    drop_in = (DEPLOY / "shipper.service.d" / "credentials.conf").read_text()
    assert credentials(drop_in) == ["es_api_key:/etc/shipper/es_api_key"] and "[Service]\n" in drop_in


def test_systemd_reads_the_unit_and_its_drop_in_without_a_warning(tmp_path: Path) -> None:
    """systemd-analyze (the machine's systemd) parses both: a setting it does not know, or gets
    wrong, is a warning naming the file. Its dump lists the drop-in and the logs directory. (It
    does not open LoadCredential= files: that systemd does when it starts the service.)"""
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    system = tmp_path / "system"
    (system / "shipper.service.d").mkdir(parents=True)
    # ExecStart's program must exist: this machine's shipper stands in for /usr/local/bin/shipper
    here = Path(sys.executable).parent / "shipper"
    (system / "shipper.service").write_text((DEPLOY / "shipper.service").read_text().replace("/usr/local/bin/shipper", str(here)))
    shutil.copy(DEPLOY / "shipper.service.d" / "credentials.conf", system / "shipper.service.d")
    quiet = subprocess.run(["systemd-analyze", "verify", str(system / "shipper.service")],
                           capture_output=True, text=True, timeout=120)
    assert quiet.returncode == 0 and "shipper.service" not in quiet.stderr, quiet.stderr
    dump = subprocess.run(["systemd-analyze", "verify", str(system / "shipper.service")], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "SYSTEMD_LOG_LEVEL": "debug"}).stdout
    assert f"DropIn Path: {system / 'shipper.service.d' / 'credentials.conf'}\n" in dump
    assert re.search(r"^\s*LogsDirectory: shipper$", dump, re.M) and re.search(r"^\s*LogsDirectoryMode: 0750$", dump, re.M)


def test_the_readme_puts_the_daemons_ndjson_where_the_unit_lets_it_write() -> None:
    """ProtectSystem=strict: the daemon writes its StateDirectory= and LogsDirectory= only."""
    unit = (DEPLOY / "shipper.service").read_text()
    assert "LogsDirectory=shipper\n" in unit and "ReadWritePaths" not in unit
    readme = (ROOT / "README.md").read_text()
    assert "`/var/log/shipper.log`" not in readme and "`/var/log/shipper/events.ndjson`" in readme


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
