"""`shipper setup`'s Kibana target is checked before anything is done: a URL without http(s)://
is refused (it used to be taken as http://, sending the admin credentials in clear), and --space
without a Kibana is an error (it was silently ignored)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from shipper.errors import ExitCode
from tests.fakees import FakeES
from tests.helpers.es import err, make_env, run_command


@pytest.fixture
def es() -> Iterator[FakeES]:
    with FakeES("8.15.3") as fake:
        yield fake


def test_a_kibana_url_without_scheme_is_refused_before_anything_is_installed(es: FakeES) -> None:
    env = make_env()
    code = run_command("setup", ["--es-url", es.url, "--kibana", "127.0.0.1:5601"], env)
    assert code == ExitCode.USAGE == 2
    said = err(env)
    assert "--kibana '127.0.0.1:5601' needs http:// or https:// in front" in said, said
    assert "e.g. https://127.0.0.1:5601" in said, said
    assert not es.cluster.index_templates  # refused first: nothing was installed, nothing sent anywhere


def test_a_configured_kibana_url_without_scheme_is_a_config_error(es: FakeES, tmp_path: Path) -> None:
    config = tmp_path / "admin.yml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\n"
                      f"output:\n  elasticsearch:\n    hosts: [{es.url}]\n    kibana_url: kibana.example:5601\n")
    env = make_env()
    assert run_command("setup", ["--config", str(config)], env) == ExitCode.CONFIG
    assert "output.elasticsearch: kibana_url 'kibana.example:5601' needs http:// or https://" in err(env)
    assert not es.cluster.index_templates


def test_space_without_a_kibana_is_an_error(es: FakeES) -> None:
    env = make_env()
    assert run_command("setup", ["--es-url", es.url, "--space", "ops"], env) == ExitCode.USAGE
    said = err(env)
    assert "--space ops needs a Kibana URL: there is no --kibana, nor output.elasticsearch.kibana_url" in said, said
    assert not es.cluster.index_templates


def test_without_kibana_nor_space_setup_installs_the_elasticsearch_assets(es: FakeES) -> None:
    env = make_env()
    assert run_command("setup", ["--es-url", es.url], env) == ExitCode.OK, err(env)
    assert es.cluster.index_templates
