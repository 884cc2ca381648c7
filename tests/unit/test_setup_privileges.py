"""`shipper setup` with credentials that may not read or write its assets fails with an error line
that says what was refused and which privileges setup needs (exit 6), not a summary that reads
like success."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from shipper.errors import ExitCode
from tests.fakees import FakeES, Grant
from tests.helpers.es import make_env, out, run_command

ADMIN, WRITER = "YWRtaW46a2V5", "d3JpdGVyOmtleQ=="
NEEDED = "cluster privileges manage_ilm, manage_index_templates, manage_ingest_pipelines"


@pytest.fixture
def es() -> Iterator[FakeES]:
    grants = {f"ApiKey {ADMIN}": Grant(user="admin", cluster={"all"}, index={"all"}),
              f"ApiKey {WRITER}": Grant(user="writer", cluster={"monitor"}, index={"create_doc", "auto_configure"})}
    with FakeES("9.1.0", credentials=grants) as fake:
        yield fake


def _setup(es: FakeES, tmp_path: Path, key: str, *extra: str) -> tuple[int, str, str]:
    key_file = tmp_path / f"key-{key[:4]}"
    key_file.write_text(key)
    key_file.chmod(0o600)
    config = tmp_path / "shipper.yml"
    config.write_text(f"output:\n  elasticsearch:\n    api_key_file: {key_file}\n")
    env = make_env()
    rc = run_command("setup", ["--es-url", es.url, "--config", str(config), *extra], env)
    return rc, out(env), env.stderr.getvalue()  # type: ignore[attr-defined]


def test_assets_it_may_not_read_make_setup_fail_with_the_privileges_it_needs(es: FakeES, tmp_path: Path) -> None:
    assert _setup(es, tmp_path, ADMIN)[0] == ExitCode.OK
    for extra in ((), ("--dry-run",)):
        rc, stdout, stderr = _setup(es, tmp_path, WRITER, *extra)
        assert rc == ExitCode.UNAVAILABLE
        assert ("shipper: error: setup could not read 3 of its 9 assets, so it neither checked nor installed them: "
                "ILM policy logs-shipper (403), ingest pipeline logs-shipper-default (403), "
                "ingest pipeline logs-shipper-recognition (403)") in stderr
        assert NEEDED in stderr and "not the shipper's own API key" in stderr
    rc, stdout, _ = _setup(es, tmp_path, WRITER)
    assert "setup: 0 changed, 6 left as they were, 3 could not be read" in stdout


def test_an_asset_it_may_not_install_names_the_privileges_setup_needs(es: FakeES, tmp_path: Path) -> None:
    rc, _, stderr = _setup(es, tmp_path, WRITER)  # nothing installed yet: the first put is refused
    assert rc == ExitCode.UNAVAILABLE
    assert "refused to let shipper install its templates, ILM policy and pipelines (403)" in stderr
    assert NEEDED in stderr and "elasticsearch-role.json) may only write documents" in stderr
