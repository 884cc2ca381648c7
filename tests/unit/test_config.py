from pathlib import Path

import pytest

from shipper.config import load_config
from shipper.config.loader import parse_duration, parse_size
from shipper.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "shipper.yml"
    p.write_text(text)
    return p


def test_minimal_config_from_the_issue_loads(tmp_path: Path) -> None:
    cfg = load_config(
        write(
            tmp_path,
            "state_dir: /var/lib/shipper\n"
            "inputs:\n  - type: journal\n  - type: file\n    paths: [/var/log/maillog*, /var/log/elasticsearch/*.log]\n"
            "output:\n  elasticsearch:\n    hosts: [https://es1.example:9200]\n",
        )
    )
    assert cfg.state_dir == Path("/var/lib/shipper")
    assert [i.type for i in cfg.inputs] == ["journal", "file"]
    assert cfg.output.elasticsearch is not None
    assert cfg.output.elasticsearch.hosts == ["https://es1.example:9200"]


def test_unknown_key_names_file_line_key_and_fix(tmp_path: Path) -> None:
    path = write(tmp_path, "inputs:\n  - type: file\n    paths: [x]\n    formt: syslog\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert f"{path}:4" in text and "inputs[0].formt" in text and "did you mean 'format'" in text


def test_wrong_type_is_an_error_not_a_default(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"parse.year: expected a whole number"):
        load_config(write(tmp_path, "parse:\n  year: twenty\n"))


def test_unknown_input_type_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"use one of: file, journal"):
        load_config(write(tmp_path, "inputs:\n  - type: kafka\n"))


def test_missing_required_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"inputs\[0\].paths: required key is missing"):
        load_config(write(tmp_path, "inputs:\n  - type: file\n"))


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"shipper.yml:2: not valid YAML"):
        load_config(write(tmp_path, "a: 1\n b: [\n"))


def test_choices_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"use one of: auto, syslog"):
        load_config(write(tmp_path, "inputs:\n  - type: file\n    paths: [x]\n    format: xml\n"))


@pytest.mark.parametrize(("text", "seconds"), [("500ms", 0.5), ("30s", 30), ("10m", 600), ("2h", 7200), (45, 45)])
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(("text", "size"), [("64KiB", 65536), ("5MB", 5_000_000), ("1GiB", 1 << 30), (100, 100)])
def test_sizes(text: object, size: int) -> None:
    assert parse_size(text) == size


def test_bad_size_is_explained(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"parse.max_line_bytes: 'lots' is not a size"):
        load_config(write(tmp_path, "parse:\n  max_line_bytes: lots\n"))
