"""The config reads plain scalars as YAML 1.2 does (PyYAML reads YAML 1.1: ``1:30`` was 90,
``yes``/``on`` were booleans, ``0755`` was octal 493, so a text setting said "quote the value"),
and an optional setting given as empty text is an error naming its key (``cloud_id: ''`` with the
default hosts silently connected to localhost)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipper.cli import main
from shipper.config import load_config
from shipper.config.loader import load_yaml_text
from shipper.env import Env
from shipper.errors import ConfigError
from tests.helpers.es import err
from tests.helpers.yaml_loaders import write, yaml_loader  # noqa: F401 (yaml_loader: a fixture)

pytestmark = pytest.mark.usefixtures("yaml_loader")


@pytest.mark.parametrize(("plain", "value"), [
    ("1:30", "1:30"), ("yes", "yes"), ("no", "no"), ("on", "on"), ("Off", "Off"), ("y", "y"), ("=", "="),
    ("1_000", "1_000"), ("0b101", "0b101"), ("2024-01-31", "2024-01-31"),
    ("true", True), ("FALSE", False), ("~", None), ("null", None), ("", None),
    ("0755", 755), ("09", 9), ("0o17", 15), ("0x1F", 31), ("-12", -12), ("+3", 3),
    ("1.5", 1.5), ("1e3", 1000.0), (".5", 0.5), ("-.inf", float("-inf")),
])
def test_plain_scalars_are_read_as_yaml_1_2_core_schema_reads_them(plain: str, value: object) -> None:
    data, _ = load_yaml_text(f"a: {plain}\n", "x.yml")
    assert data["a"] == value and type(data["a"]) is type(value)


def test_a_text_setting_takes_them_as_written(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "inputs:\n  - type: journal\n    identifiers: [1:30, yes, on, no, OFF, 1_000]\n"))
    assert cfg.inputs[0].identifiers == ["1:30", "yes", "on", "no", "OFF", "1_000"]  # type: ignore[union-attr]


def test_a_duration_of_1_30_is_an_error_not_90_seconds(tmp_path: Path) -> None:
    path = write(tmp_path, "run:\n  stop_timeout: 1:30\n")
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert str(exc.value).startswith(f"{path}:2: run.stop_timeout: '1:30' is not a duration")


@pytest.mark.parametrize("key", ["verify_certs", "deadletter_index"])
@pytest.mark.parametrize("plain", ["yes", "on", "no", "off"])
def test_a_boolean_setting_given_yes_says_use_true_or_false(tmp_path: Path, key: str, plain: str) -> None:
    path = write(tmp_path, f"state_dir: /srv/s\noutput:\n  elasticsearch:\n    {key}: {plain}\n")
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert str(exc.value) == (f"{path}:4: output.elasticsearch.{key}: expected true or false, "
                              f"got text ({plain!r}) (use true or false)")


def test_the_int_tag_reads_as_yaml_1_2_too(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "parse: {year: !!int 02017}\n")).parse.year == 2017
    path = write(tmp_path, "parse: {year: !!int 33:45}\n")
    with pytest.raises(ConfigError, match=f"^{path}: not valid YAML: "):
        load_config(path)


@pytest.mark.parametrize(("key", "fix"), [
    ("cloud_id", "set it to the Cloud ID of an Elastic Cloud deployment, or remove the key"),
    ("username", "set it, or remove the key"),
    ("api_key_env", "set it to an environment variable holding the API key, or remove the key"),
    ("password_env", "set it, or remove the key"),
    ("bearer_token_env", "set it, or remove the key"),
    ("api_key_file", "set it to a file holding the encoded API key (or id:key), or remove the key"),
    ("ca_file", "set it to a PEM bundle of the CA that signed the cluster's certificate, or remove the key"),
    ("client_cert", "set it, or remove the key"),
    ("ssl_fingerprint", "set it to the SHA-256 fingerprint of the server certificate"),
    ("kibana_url", "set it to Kibana's URL"),
])
def test_an_empty_optional_setting_is_an_error_naming_its_key(tmp_path: Path, key: str, fix: str) -> None:
    path = write(tmp_path, f"state_dir: /srv/s\noutput:\n  elasticsearch:\n    {key}: ''\n")
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert exc.value.message == f"{path}:4: output.elasticsearch.{key}: is empty"
    assert exc.value.hint is not None and exc.value.hint.startswith(fix)


def test_an_empty_cloud_id_is_refused_by_validate_and_check_before_any_connection(tmp_path: Path, env: Env) -> None:
    path = write(tmp_path, f"state_dir: {tmp_path / 'state'}\noutput:\n  elasticsearch:\n    cloud_id: \"\"\n")
    for command in ("validate", "check"):
        assert main([command, "--config", str(path)], env) == 3, err(env)
    said = err(env)
    assert said.count(f"{path}:4: output.elasticsearch.cloud_id: is empty") == 2, said
    assert "localhost" not in said


def test_an_empty_timezone_is_an_error_naming_its_key(tmp_path: Path) -> None:
    path = write(tmp_path, "parse:\n  timezone: ''\n")
    with pytest.raises(ConfigError, match=r":2: parse\.timezone: is empty"):
        load_config(path)
