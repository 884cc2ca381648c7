"""The fleet tests' shared pieces, built once per run: the wheel (scripts/build-dist), the cached
Debian 12 root, and a server on 127.0.0.1 that serves the wheel only."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.fleet import OneFileServer, build_dist, copy_root, pristine_root, unregistered_commands
from tests.helpers.fleet_deploy import Wheel


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Wheel:
    missing = unregistered_commands()
    assert not missing, f"the role runs `shipper {' / '.join(missing)}`: register them in shipper/cli.py COMMANDS"
    out = tmp_path_factory.mktemp("dist")
    sums = build_dist(out)
    name = next(n for n in sums if n.endswith(".whl"))
    return Wheel(out / name, sums[name])


@pytest.fixture(scope="session")
def pristine() -> Path:
    root = pristine_root()
    if isinstance(root, str):
        print(f"fleet test skipped: {root}")
        pytest.skip(root)
    return root


@pytest.fixture(scope="module")  # (not the session's: its thread would make every later parallel replay spawn its workers)
def served(wheel: Wheel) -> Iterator[str]:
    server = OneFileServer(wheel.path)
    yield server.url
    server.close()


@pytest.fixture
def fresh(pristine: Path, tmp_path: Path) -> Iterator[Path]:
    """A new host: a private copy of the cached root, removed after the test."""
    root = copy_root(pristine, tmp_path / "root")
    yield root
    shutil.rmtree(root)
