"""Checkpoint files: one per input, atomic, refused when damaged (never silently reset)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipper.errors import ConfigError
from shipper.state.checkpoints import CheckpointStore, input_key


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    assert store.load("journal-local") is None
    store.save("journal-local", {"mark": {"cursor": "s=1;i=2", "time": "2017-08-30T14:55:07.000000Z"}})
    assert store.load("journal-local") == {"mark": {"cursor": "s=1;i=2", "time": "2017-08-30T14:55:07.000000Z"}}
    assert store.all() == {"journal-local": {"mark": {"cursor": "s=1;i=2", "time": "2017-08-30T14:55:07.000000Z"}}}
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["journal-local.json"]  # no temp files left


def test_a_damaged_checkpoint_is_an_error_that_says_what_to_do(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    store.save("file-x", {"files": []})
    store.path("file-x").write_text('{"version": 1, "state": {"files": [')  # torn by hand
    with pytest.raises(ConfigError, match="damaged") as err:
        store.load("file-x")
    assert err.value.hint and "move it away" in err.value.hint
    assert store.all() == {}


def test_input_keys_are_stable_readable_and_distinct() -> None:
    a = input_key("file", None, "/var/log/maillog*")
    assert a == input_key("file", None, "/var/log/maillog*")
    assert a.startswith("file-var_log_maillog")
    assert a != input_key("file", None, "/var/log/maillog")
    assert input_key("journal", "main", "local") == "journal-main"
