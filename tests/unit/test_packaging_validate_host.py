"""`shipper validate` tells a config that is invalid (exit 3) from a valid one this machine cannot
run (exit 4): one that reads the journal, configured or by default (no inputs:), on a machine
without systemd-python, such as an admin machine where the config serves `shipper setup`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from shipper.cli import main
from shipper.env import Env
from shipper.errors import ExitCode

ES_ONLY = "output:\n  elasticsearch:\n    hosts: [https://es1.example:9200]\n    api_key_file: /etc/shipper/es_api_key\n"


@pytest.fixture
def no_systemd_python(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "systemd", None)  # `from systemd import journal` fails: not installed


def validate(env: Env, path: Path, text: str) -> tuple[int, str, str]:
    path.write_text(text)
    code = main(["validate", "--config", str(path)], env)
    return code, env.stdout.getvalue(), env.stderr.getvalue()  # type: ignore[attr-defined]


@pytest.mark.usefixtures("no_systemd_python")
def test_a_valid_config_without_inputs_is_valid_but_this_machine_cannot_run_it(env: Env, tmp_path: Path) -> None:
    code, out, err = validate(env, tmp_path / "es-only.yml", ES_ONLY)
    assert code == ExitCode.INPUT
    assert out.startswith(f"config valid: {tmp_path / 'es-only.yml'}\n") and "outputs: elasticsearch\n" in out
    assert f"this machine cannot run {tmp_path / 'es-only.yml'} with shipper run: it has no inputs:" in err
    assert "the local journal by default, and reading the journal needs systemd-python" in err
    assert "apt-get install python3-systemd" in err and "shipper setup, check or replay --config" in err
    assert "binary journal files" not in err  # the replay's message, about files nobody gave


@pytest.mark.usefixtures("no_systemd_python")
def test_an_invalid_config_without_inputs_is_invalid_there_too(env: Env, tmp_path: Path) -> None:
    code, out, err = validate(env, tmp_path / "es-only.yml", ES_ONLY.replace("hosts:", "namespace: Prod-EU\n    hosts:"))
    assert code == ExitCode.CONFIG and out == ""
    assert "namespace 'Prod-EU' is not valid" in err and "systemd-python" not in err


@pytest.mark.usefixtures("no_systemd_python")
def test_a_journal_input_is_named_with_its_line(env: Env, tmp_path: Path) -> None:
    code, out, err = validate(env, tmp_path / "j.yml", "state_dir: /var/lib/shipper\ninputs:\n  - type: journal\n")
    assert code == ExitCode.INPUT and out.startswith("config valid: ") and "inputs: journal\n" in out
    assert f"{tmp_path / 'j.yml'}:3: inputs[0] reads the journal" in err


@pytest.mark.usefixtures("no_systemd_python")
def test_the_inputs_after_a_journal_input_are_checked_too(env: Env, tmp_path: Path) -> None:
    code, out, err = validate(env, tmp_path / "j.yml", "inputs:\n  - type: journal\n  - type: file\n"
                                                      "    paths: [/var/log/maillog]\n")
    assert code == ExitCode.INPUT and out.startswith("config valid: ") and "inputs: journal, file\n" in out
    assert f"{tmp_path / 'j.yml'}:2: inputs[0] reads the journal" in err and "not checked" not in err


@pytest.mark.usefixtures("no_systemd_python")
def test_an_invalid_input_after_a_journal_input_is_invalid_there_too(env: Env, tmp_path: Path) -> None:
    code, out, err = validate(env, tmp_path / "j.yml", "inputs:\n  - type: journal\n  - type: file\n"
                                                      "    paths: [/var/log/maillog]\n  - type: file\n"
                                                      "    paths: [/var/log/maillog]\n")
    assert code == ExitCode.CONFIG and out == ""
    assert f"{tmp_path / 'j.yml'}:5: inputs[2]: would share the checkpoint" in err, err
    assert "systemd-python" not in err


def test_with_systemd_python_the_same_config_is_valid(env: Env, tmp_path: Path) -> None:
    pytest.importorskip("systemd.journal", reason="systemd-python is not installed")
    code, out, err = validate(env, tmp_path / "es-only.yml", ES_ONLY)
    assert (code, err) == (ExitCode.OK, "") and out.startswith("config valid: ")
