"""Building the client: hosts or Cloud ID, authentication headers, TLS settings and their checks."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from shipper.config.elasticsearch import ElasticsearchOutput
from shipper.config.loader import build, load_yaml_text
from shipper.config.model import Config
from shipper.errors import ConfigError
from shipper.sinks.es_client import build_client, where
from tests.helpers.es import make_env


def test_a_cloud_id_names_the_deployment_and_its_host() -> None:
    cloud = "prod:" + base64.b64encode(b"eu-west-1.aws.found.io$abc123$kib456").decode()
    cfg = ElasticsearchOutput(cloud_id=cloud)
    client = build_client(cfg, make_env())
    (node,) = client.transport.node_pool.all()
    assert node.config.host == "abc123.eu-west-1.aws.found.io" and node.config.scheme == "https"
    assert where(cfg) == "Elastic Cloud deployment prod"


def test_api_key_as_encoded_value_or_id_and_key(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("theid:thekey\n")
    client = build_client(ElasticsearchOutput(api_key_file=key), make_env())
    assert client._headers["authorization"] == "ApiKey " + base64.b64encode(b"theid:thekey").decode()
    key.write_text("ZW5jb2RlZA==")
    client = build_client(ElasticsearchOutput(api_key_file=key), make_env())
    assert client._headers["authorization"] == "ApiKey ZW5jb2RlZA=="


def test_bearer_token_from_an_environment_variable() -> None:
    client = build_client(ElasticsearchOutput(bearer_token_env="TOKEN"), make_env({"TOKEN": "tok-123"}))
    assert client._headers["authorization"] == "Bearer tok-123"


def test_two_ways_to_authenticate_is_an_error_of_the_config(tmp_path: Path) -> None:
    """Checked on the keys set, when the config is loaded: `shipper validate` says it (it said the
    config was valid, and the error came at the first connection)."""
    for text, message in [
        ("bearer_token_env: T\n    username: u\n    password_env: P", "several ways to authenticate are configured"),
        ("password_env: P", "username and password_file/password_env go together"),
        ("username: u", "username and password_file/password_env go together"),
        ("api_key_file: /k\n    api_key_env: K", "api_key_file and api_key_env are both set"),
    ]:
        data, where = load_yaml_text(f"output:\n  elasticsearch:\n    {text}\n", "c.yml")
        with pytest.raises(ConfigError, match=message):
            build(Config, data, "c.yml", where)


def test_tls_files_must_exist_and_the_fingerprint_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ca_file: .* does not exist"):
        build_client(ElasticsearchOutput(hosts=["https://es:9200"], ca_file=tmp_path / "ca.pem"), make_env())
    with pytest.raises(ValueError, match="SHA-256"):
        ElasticsearchOutput(ssl_fingerprint="abc")
    fp = ":".join(["AB"] * 32)
    client = build_client(ElasticsearchOutput(hosts=["https://es:9200"], ssl_fingerprint=fp), make_env())
    (node,) = client.transport.node_pool.all()
    assert node.config.ssl_assert_fingerprint == "ab" * 32


def test_the_namespace_follows_the_data_stream_naming_rules() -> None:
    for bad in ("Prod", "a-b", "", "x" * 101, "a b"):
        with pytest.raises(ValueError, match="namespace"):
            ElasticsearchOutput(namespace=bad)
    assert ElasticsearchOutput(namespace="prod_eu1").namespace == "prod_eu1"
