"""Shared fixtures: where the test data lives, an `Env` with in-memory streams, and a fake
Elasticsearch with shipper's assets set up."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import pytest

from shipper.env import Env

if TYPE_CHECKING:
    from tests.fakees import FakeES

DATA = Path(__file__).parent / "data"
CORPUS = DATA / "corpus"
SEED = DATA / "seed"


class _Text(io.StringIO):
    """A text stream with a binary buffer under it, like sys.stdout."""

    def __init__(self) -> None:
        super().__init__()
        self.buffer = io.BytesIO()

    def isatty(self) -> bool:
        return False


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env(
        stdin=io.BytesIO(),
        stdout=_Text(),
        stderr=_Text(),
        environ={"HOME": str(tmp_path / "home"), "TZ": "UTC"},
        clock=lambda: 1_504_100_000.0,
    )


@pytest.fixture
def corpus() -> Path:
    return CORPUS


@pytest.fixture
def seed() -> Path:
    return SEED


@pytest.fixture
def es() -> Iterator[FakeES]:
    """A fake Elasticsearch on which `shipper setup` installed shipper's assets (`set_up_es`)."""
    from tests.helpers.es import set_up_es

    with set_up_es() as fake:
        yield fake
