"""Secrets come from files or environment variables only, and never reach a message."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from shipper.config.elasticsearch import ElasticsearchOutput
from shipper.config.loader import load_yaml_text, build
from shipper.config.model import Config
from shipper.errors import ConfigError, UnavailableError
from shipper.secrets import load_secret, redact
from shipper.sinks.elasticsearch import ElasticsearchSink
from tests.fakees import FakeES, Grant
from tests.helpers.es import Acks, make_env, run_command, run_sink, syslog_docs


def test_a_secret_is_read_from_a_file_or_a_variable_and_redacted_everywhere(tmp_path: Path) -> None:
    f = tmp_path / "pw"
    f.write_text("s3cret-from-file\n")
    assert load_secret("the password", file=f, env_var=None, environ={}, key="k") == "s3cret-from-file"
    assert load_secret("the token", file=None, env_var="TOK", environ={"TOK": "tok-from-env"}, key="k") == "tok-from-env"
    text = "auth s3cret-from-file and tok-from-env and " + base64.b64encode(b"tok-from-env").decode()
    assert redact(text) == "auth [REDACTED] and [REDACTED] and [REDACTED]"


def test_missing_or_ambiguous_secret_sources_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="TOK, which is not set"):
        load_secret("the token", file=None, env_var="TOK", environ={}, key="output.elasticsearch.api_key")
    with pytest.raises(ConfigError, match="does not exist"):
        load_secret("the key", file=tmp_path / "nope", env_var=None, environ={}, key="output.elasticsearch.api_key")
    with pytest.raises(ConfigError, match="both set"):
        load_secret("the key", file=tmp_path / "x", env_var="X", environ={}, key="output.elasticsearch.api_key")
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        load_secret("the key", file=tmp_path / "empty", env_var=None, environ={}, key="output.elasticsearch.api_key")


def test_credentials_in_a_url_are_refused_by_the_config() -> None:
    data, where = load_yaml_text("output:\n  elasticsearch:\n    hosts: ['https://elastic:pw@es1:9200']\n", "c.yml")
    with pytest.raises(ConfigError, match="credentials may not be written in a URL") as caught:
        build(Config, data, "c.yml", where)
    assert "pw" not in str(caught.value).replace("password", "")


def test_a_failing_connection_never_shows_the_secret(tmp_path: Path) -> None:
    secret = "id42:Sup3rS3cretApiKeyValue"
    with FakeES() as es:
        url = es.url  # nothing listens there any more
    (tmp_path / "key").write_text(secret)
    env = make_env({"ES_PASSWORD": "hunter2-but-longer"})
    config = tmp_path / "shipper.yml"
    config.write_text(f"output:\n  elasticsearch:\n    api_key_file: {tmp_path / 'key'}\n")
    assert run_command("check", ["--es-url", url, "--config", str(config)], env) == 6
    shown = env.stderr.getvalue() + env.stdout.getvalue()  # type: ignore[attr-defined]
    assert "cannot reach Elasticsearch" in shown and "Sup3rS3cretApiKeyValue" not in shown


def test_refused_basic_credentials_never_show_the_password_or_its_header(tmp_path: Path) -> None:
    good = "Basic " + base64.b64encode(b"shipper:right-password").decode()
    with FakeES("8.15.3", credentials={good: Grant()}) as es:
        cfg = ElasticsearchOutput(hosts=[es.url], username="shipper", password_env="ES_PW")
        sink = ElasticsearchSink(cfg, tmp_path, make_env({"ES_PW": "wrong-password-42"}))
        with pytest.raises(UnavailableError) as caught:
            sink.open(Acks())
        text = redact(str(caught.value))
        assert "401" in text and "wrong-password-42" not in text
        assert base64.b64encode(b"shipper:wrong-password-42").decode() not in redact(repr(caught.value.__dict__))
        # and the right password works
        _, acks = run_sink(es.url, [syslog_docs(2)], tmp_path, env=make_env({"ES_PW": "right-password"}),
                           username="shipper", password_env="ES_PW")
        assert acks == [0]


def test_turning_tls_verification_off_is_logged(tmp_path: Path) -> None:
    with FakeES() as es:
        env = make_env()
        run_sink(es.url, [syslog_docs(1)], tmp_path, env=env, verify_certs=False)
    assert "TLS certificate verification is OFF" in env.stderr.getvalue()  # type: ignore[attr-defined]
