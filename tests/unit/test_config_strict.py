"""Strictness that PyYAML and the config classes alone leave out: keys given twice, aliases inside
their own anchor, and `shipper validate` refusing what `shipper run` refuses."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

from shipper.commands import validate
from shipper.config import load_config
from shipper.env import Env
from shipper.errors import ConfigError, ExitCode, InputError
from tests.helpers.yaml_loaders import write, yaml_loader  # noqa: F401 (yaml_loader: a fixture)


@pytest.mark.usefixtures("yaml_loader")
@pytest.mark.parametrize(("text", "where"), [
    ("state_dir: /srv/a\nstate_dir: /srv/b\n", ":2: state_dir: already given on line 1"),
    ("output:\n  elasticsearch:\n    namespace: a\n    hosts: [https://es1:9200]\n    namespace: b\n",
     ":5: output.elasticsearch.namespace: already given on line 3"),
    ("inputs:\n  - type: journal\n  - type: file\n    paths: [/var/log/a]\n    paths: [/var/log/b]\n",
     ":5: inputs[1].paths: already given on line 4"),
    ("inputs: [{type: file, paths: [/var/log/a], start: head, start: tail}]\n",
     ":1: inputs[0].start: already given on line 1"),
], ids=["top level", "nested", "in a list", "flow style"])
def test_a_key_given_twice_names_both_lines(tmp_path: Path, text: str, where: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.message == f"{path}{where}"
    assert err.value.hint is not None and "keep one" in err.value.hint


@pytest.mark.usefixtures("yaml_loader")
def test_a_key_that_overrides_a_merge_key_is_not_given_twice(tmp_path: Path) -> None:
    merged = "inputs:\n  - &logs {type: file, paths: [/var/log/a]}\n  - <<: *logs\n    paths: [/var/log/b]\n"
    assert load_config(write(tmp_path, merged)).inputs[1].paths == ["/var/log/b"]  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match=r":5: inputs\[1\]\.paths: already given on line 4"):
        load_config(write(tmp_path, merged + "    paths: [/var/log/c]\n"))


@pytest.mark.usefixtures("yaml_loader")
def test_an_alias_inside_its_own_anchor_is_a_config_error(tmp_path: Path) -> None:
    path = write(tmp_path, "inputs:\n  - &loop\n    type: file\n    paths: [/var/log/a]\n    exclude: *loop\n")
    with pytest.raises(ConfigError, match=rf"^{path}:5: inputs\[0\]\.exclude: an alias inside its own anchor"):
        load_config(path)


@pytest.mark.parametrize(("inputs", "message"), [
    ("[{type: file, paths: [/var/log/maillog]}, {type: file, paths: [/var/log/maillog]}]",
     r"shipper\.yml:2: inputs\[1\]: would share the checkpoint '[^']+' with inputs\[0\] \(line 2\)"),
    ("[{type: file, paths: [/var/log/journal.export], format: journal-export}]",
     r"shipper\.yml:2: inputs\[0\]\.format: journal-export files cannot be followed"),
    ("[{type: file, paths: [/var/log/maillog]}]\noutput: {local: {}, ndjson: {path: /tmp/x.ndjson}}",
     r"shipper\.yml:3: output: shipper run writes to one output, and local and ndjson are configured"),
], ids=["shared checkpoint", "format run cannot follow", "two outputs (was: 'choose one with --output', exit 2)"])
def test_validate_refuses_what_run_refuses(env: Env, tmp_path: Path, inputs: str, message: str) -> None:
    path = write(tmp_path, f"state_dir: {tmp_path / 'state'}\ninputs: {inputs}\n")
    with pytest.raises(ConfigError, match=message) as err:
        validate.run(argparse.Namespace(config=path), env)
    assert err.value.exit_code == ExitCode.CONFIG
    assert env.stdout.getvalue() == ""  # type: ignore[attr-defined]


def test_validate_needs_systemd_python_for_the_journal_only(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "systemd", None)  # `from systemd import journal` fails: not installed
    nothing = tmp_path / "nothing"
    files = write(tmp_path, f"state_dir: {nothing / 'state'}\ninputs: [{{type: file, paths: [/var/log/maillog]}}]\n"
                            f"output: {{ndjson: {{path: {nothing / 'out.ndjson'}}}}}\n")
    assert validate.run(argparse.Namespace(config=files), env) == ExitCode.OK
    assert not nothing.exists()  # no state directory, no output file
    for journal in ("inputs: [{type: journal}]\n", "state_dir: /var/lib/shipper\n"):  # configured, or by default
        with pytest.raises(InputError, match="needs systemd-python") as err:
            validate.run(argparse.Namespace(config=write(tmp_path, journal)), env)
        assert err.value.exit_code == ExitCode.INPUT
