import os
from pathlib import Path

import pytest

from shipper.errors import OutputError
from shipper.state.atomic import write_atomic


def test_replaces_content_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "state" / "cursor"
    target.parent.mkdir()  # (not made by write_atomic: tests/unit/test_state_dir_not_made_again.py)
    write_atomic(target, b"one")
    write_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert os.listdir(target.parent) == ["cursor"]
    assert target.stat().st_mode & 0o777 == 0o600


def test_failure_is_explained_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "cursor"
    target.mkdir()  # a directory where the file should go: the rename must fail, even as root
    with pytest.raises(OutputError, match="cannot write state file"):
        write_atomic(target, b"new")
    assert os.listdir(tmp_path) == ["cursor"]


def test_parent_that_is_a_file_is_explained(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("")
    with pytest.raises(OutputError, match="check free space and permissions"):
        write_atomic(tmp_path / "state" / "cursor", b"x")
