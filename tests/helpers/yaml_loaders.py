"""Config tests run with both YAML loaders: the C one (libyaml) and the Python one."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from shipper.config import loader

LOADERS = [
    pytest.param(getattr(yaml, "CSafeLoader", None), id="libyaml",
                 marks=pytest.mark.skipif(not hasattr(yaml, "CSafeLoader"), reason="PyYAML without libyaml")),
    pytest.param(yaml.SafeLoader, id="python"),
]


@pytest.fixture(params=LOADERS)
def yaml_loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The C and the Python loader (`loader._Loader` is the C one when PyYAML was built with it)."""
    monkeypatch.setattr(loader, "_Loader", request.param)


def write(tmp_path: Path, text: str) -> Path:
    """``text`` as the config file shipper.yml in ``tmp_path``."""
    path = tmp_path / "shipper.yml"
    path.write_text(text)
    return path
