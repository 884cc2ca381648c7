"""`shipper setup` and `shipper check` told no cluster (no --es-url, and no output.elasticsearch in
--config, or no --config) went to http://localhost:9200: setup would install templates, ILM and
pipelines in whatever listens there, and check would vouch for it. Now, as relink, they refuse
(exit 2) and say what to give. A real Elasticsearch-like server listens on the port meanwhile: it
must get no request."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipper.errors import ExitCode
from tests.fakees import FakeES
from tests.helpers.es import err, make_env, out, run_command


def _config(tmp_path: Path, es: FakeES | None = None) -> Path:
    path = tmp_path / "shipper.yml"
    if es is not None:
        output = f"output:\n  elasticsearch:\n    hosts: [{es.url}]\n"
    else:
        output = f"output:\n  ndjson: {{path: {tmp_path / 'out.ndjson'}}}\n"
    path.write_text(f"state_dir: {tmp_path / 'state'}\n{output}")
    return path


@pytest.mark.parametrize(("command", "verb"), [("setup", "set up"), ("check", "check")])
def test_no_cluster_named_is_an_error_not_localhost(command: str, verb: str, tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    env = make_env()
    assert run_command(command, ["--config", str(cfg)], env) == ExitCode.USAGE
    said = err(env)
    assert (f"shipper: error: {command} needs to know which Elasticsearch to {verb}: {cfg} has no "
            "output.elasticsearch section, and no --es-url") in said, said
    assert "give --config with an output.elasticsearch section" in said, said
    env = make_env()
    assert run_command(command, [], env) == ExitCode.USAGE
    said = err(env)
    assert f"{command} needs to know which Elasticsearch to {verb}: no --config given, and no --es-url" in said, said
    assert "localhost" not in said, said


@pytest.mark.parametrize("command", ["setup", "check"])
def test_a_cluster_named_by_the_config_or_es_url_is_used(command: str, tmp_path: Path) -> None:
    with FakeES("8.15.3", security=False) as es:
        env = make_env()
        assert run_command(command, ["--config", str(_config(tmp_path, es))], env) != ExitCode.USAGE, err(env)
        assert es.url.removeprefix("http://") in out(env)
        env = make_env()
        assert run_command(command, ["--es-url", es.url], env) != ExitCode.USAGE, err(env)
        assert es.url.removeprefix("http://") in out(env)
