"""Values YAML would turn into something else than the text written: unquoted dates and times
(``start: 2024-01-31T12:00:00Z``, the form `shipper print-config` shows, was refused as "expected
text, got datetime"; ``start: 2024-13-45`` crashed with "month must be in 1..12"), and
``output.elasticsearch.hosts: []``, valid for `validate` and a crash for check, setup and replay."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from shipper.cli import main
from shipper.config import load_config, loader
from shipper.config.model import JournalInput
from shipper.env import Env
from shipper.errors import ConfigError
from tests.helpers.es import err
from tests.helpers.yaml_loaders import write, yaml_loader  # noqa: F401 (yaml_loader: a fixture)

DEMO = Path(__file__).resolve().parents[2] / "demo" / "logs"


@pytest.mark.usefixtures("yaml_loader")
@pytest.mark.parametrize("start", ["2024-01-31T12:00:00Z", "2024-01-31 12:00:00+02:00", "2024-01-31"])
def test_an_unquoted_start_time_is_the_text_written(tmp_path: Path, env: Env, start: str) -> None:
    path = write(tmp_path, f"state_dir: {tmp_path / 'state'}\ninputs: [{{type: journal, start: {start}}}]\n")
    (journal,) = load_config(path).inputs
    assert isinstance(journal, JournalInput) and journal.start == start
    assert main(["validate", "--config", str(path)], env) == 0, err(env)


@pytest.mark.usefixtures("yaml_loader")
@pytest.mark.parametrize(("text", "said"), [
    ("inputs: [{type: journal, start: 2024-13-45}]\n",
     ":1: inputs[0]: start '2024-13-45' is not head, tail or a time such as 2024-01-31T12:00:00Z"),
    ("inputs: [{type: file, paths: [/var/log/a], name: 2024-99-01 10:00:00}]\n",
     ":1: inputs[0]: name '2024-99-01 10:00:00' is not valid"),
])
def test_an_impossible_date_is_an_error_that_quotes_it(tmp_path: Path, text: str, said: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert exc.value.message.startswith(f"{path}{said}")


@pytest.mark.usefixtures("yaml_loader")
def test_date_like_text_elsewhere_is_text(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "state_dir: 2024-02-30\ninputs: [{type: file, paths: [/var/log/a], name: 2024-99-01}]\n"))
    assert cfg.state_dir == Path("2024-02-30") and cfg.inputs[0].name == "2024-99-01"


@pytest.mark.usefixtures("yaml_loader")
@pytest.mark.parametrize("value", ["!!int x", "!!float x", "!!timestamp 2024-13-45"])
def test_an_explicit_tag_on_a_value_it_cannot_take_is_a_config_error(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, f"state_dir: {value}\n")
    with pytest.raises(ConfigError, match=f"^{path}: not valid YAML: "):
        load_config(path)


@pytest.mark.usefixtures("yaml_loader")
def test_other_yaml_files_still_read_timestamps() -> None:
    """Only the config's loader leaves them out (PyYAML's own loader classes stay as they were)."""
    assert yaml.load("a: 2024-01-31", Loader=loader._Loader) == {"a": date(2024, 1, 31)}


ES = "output:\n  elasticsearch:\n    hosts: []\n"


@pytest.mark.parametrize("argv", [["validate"], ["check"], ["replay", "--output", "es", str(DEMO / "maillog")]])
def test_an_empty_hosts_list_is_a_config_error_naming_the_key(tmp_path: Path, env: Env, argv: list[str]) -> None:
    path = write(tmp_path, f"state_dir: {tmp_path / 'state'}\n" + ES)
    assert main([*argv, "--config", str(path)], env) == 3, err(env)
    assert f"{path}:3: output.elasticsearch: hosts is empty: give at least one URL" in err(env)
    assert "or set cloud_id" in err(env) and "unexpected" not in err(env)


def test_an_empty_hosts_list_with_a_cloud_id_is_valid(tmp_path: Path) -> None:
    cloud = "prod:ZXUtd2VzdC0xLmF3cy5mb3VuZC5pbyRhYmMxMjMka2liNDU2"
    cfg = load_config(write(tmp_path, ES + f"    cloud_id: '{cloud}'\n"))
    assert cfg.output.elasticsearch is not None and cfg.output.elasticsearch.cloud_id == cloud
