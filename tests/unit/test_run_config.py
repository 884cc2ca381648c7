"""The daemon's configuration: the example in deploy/ loads, new settings are strictly checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipper.config import load_config
from shipper.config.model import FileInput, JournalInput
from shipper.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "shipper.yml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "shipper.yml"
    path.write_text(text)
    return path


def test_the_example_config_loads() -> None:
    cfg = load_config(EXAMPLE)
    journal, files = cfg.inputs
    assert isinstance(journal, JournalInput) and isinstance(files, FileInput)
    assert files.paths == ["/var/log/maillog*", "/var/log/elasticsearch/*.log"]
    assert cfg.run.spool_max_bytes == 1 << 30 and cfg.run.metrics is None
    assert cfg.output.elasticsearch is not None


def test_defaults_of_the_run_settings(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "inputs: [{type: file, paths: [/var/log/messages]}]\nrun: {metrics: {}}\n"))
    assert cfg.run.queue_events == 10_000 and cfg.run.batch_wait == 0.2 and cfg.run.stop_timeout == 10
    assert cfg.run.metrics is not None and cfg.run.metrics.listen == "127.0.0.1:9464"
    assert cfg.inputs[0].flush_after == 1  # type: ignore[union-attr]


@pytest.mark.parametrize(("text", "message"), [
    ("inputs: [{type: file, paths: [var/log/messages]}]", "relative"),
    ("inputs: [{type: file, paths: []}]", "at least one"),
    ("inputs: [{type: file, paths: [/x], start: middle}]", "use one of: head, tail"),
    ("inputs: [{type: journal, start: yesterday}]", "not head, tail or a time"),
    ("inputs: [{type: journal, priority: 9}]", r"0 \(emerg\) to 7 \(debug\)"),
    ("inputs: [{type: journal, name: 'a b'}]", "name 'a b' is not valid"),
    ("run: {spool_max_bytes: 10KiB}", "at least 1MiB"),
    ("run: {metrics: {listen: localhost}}", "not HOST:PORT"),
    ("run: {stop_timout: 5s}", "did you mean 'stop_timeout'"),
])
def test_bad_values_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, text + "\n"))
