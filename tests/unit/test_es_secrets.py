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


@pytest.mark.parametrize("content", ["TOPSECRETAAA\nTOPSECRETBBB\n", "TOPSECRET AAA", "TOPSECRETé"])
@pytest.mark.parametrize("kind", ["api_key", "bearer_token"])
def test_a_key_that_cannot_be_a_header_is_refused_without_showing_it(tmp_path: Path, kind: str, content: str) -> None:
    """An API key or token goes into the Authorization header as it is: a second line made the
    client's error print the whole header, key included ("Invalid header value b'ApiKey …\\n…'")."""
    (tmp_path / "key").write_text(content)
    config = tmp_path / "shipper.yml"
    config.write_text(f"output:\n  elasticsearch:\n    {kind}_file: {tmp_path / 'key'}\n")
    env = make_env()
    with FakeES() as es:
        assert run_command("check", ["--es-url", es.url, "--config", str(config)], env) == 3
    shown = env.stderr.getvalue() + env.stdout.getvalue()  # type: ignore[attr-defined]
    assert f"in {tmp_path / 'key'} holds" in shown and "it must be one word of printable ASCII" in shown
    assert "TOPSECRET" not in shown


def test_a_password_with_non_ascii_characters_is_sent_as_utf8(tmp_path: Path) -> None:
    """Elasticsearch reads Basic credentials as UTF-8; the client encoded them as ASCII and failed
    (an "unexpected error", exit 1)."""
    good = "Basic " + base64.b64encode("shipper:pässwörd€".encode()).decode()
    with FakeES("8.15.3", credentials={good: Grant()}) as es:
        _, acks = run_sink(es.url, [syslog_docs(2)], tmp_path, env=make_env({"ES_PW": "pässwörd€"}),
                           username="shipper", password_env="ES_PW")
    assert acks == [0]


@pytest.mark.parametrize("host, said", [
    ("es1:9200", "needs http:// or https:// in front"),
    ("not a url", "needs http:// or https:// in front"),
    ("ftp://es1:9200", "needs http:// or https:// in front"),
    ("http://es1:99999", "is not a URL of the form https://HOST:PORT"),
    ("http://:9200", "is not a URL of the form https://HOST:PORT"),
])
def test_a_host_the_client_cannot_take_is_a_config_error_or_a_usage_error(tmp_path: Path, host: str, said: str) -> None:
    """The client refused them with a ValueError, which shipper reported as a bug of its own (exit 1)."""
    data, where = load_yaml_text(f"output:\n  elasticsearch:\n    hosts: ['{host}']\n", "c.yml")
    with pytest.raises(ConfigError, match=said):
        build(Config, data, "c.yml", where)
    env = make_env()
    assert run_command("check", ["--es-url", host], env) == 2
    assert run_command("replay", ["--output", "es", "--es-url", host, str(tmp_path)], env) == 2
    assert env.stderr.getvalue().count(f"--es-url: host {host!r}") == 2  # type: ignore[attr-defined]
