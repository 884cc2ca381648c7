"""The has-privileges question shipper asks (`shipper.sinks.es_privileges`), over real HTTP to the
fake: the fake answers as Elasticsearch documents it (a privilege held through a greater one too;
with security off, the 400 of an unknown path), `shipper check` reads it so, and the sink's probe
names what a key lacks."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from shipper.config.elasticsearch import ElasticsearchOutput
from shipper.errors import UnavailableError
from shipper.sinks.elasticsearch import ElasticsearchSink
from tests.fakees import FakeES, Grant
from tests.helpers.es import Acks, err, make_env, out, run_command

WRITER = "d3JpdGVyOmtleQ=="  # base64 of writer:key
ASKED = {"cluster": ["monitor"],
         "index": [{"names": ["logs-shipper.*-default"], "privileges": ["create_doc", "auto_configure"]}]}


def _post(url: str, body: dict[str, Any], key: str | None = None) -> tuple[int, Any]:
    headers = {"content-type": "application/json"} | ({"authorization": f"ApiKey {key}"} if key else {})
    request = urllib.request.Request(f"{url}/_security/user/_has_privileges", json.dumps(body).encode(), headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_h3_the_fake_answers_has_privileges_without_security_as_elasticsearch_8_and_9() -> None:
    with FakeES("9.1.0", security=False) as es:
        assert _post(es.url, ASKED) == (400, {"error": "no handler found for uri [/_security/user/_has_privileges] "
                                                       "and method [POST]"})


def test_h3_the_fake_counts_a_privilege_held_through_a_greater_one() -> None:
    grant = Grant(user="writer", cluster={"manage"}, index={"write", "manage"})
    with FakeES("8.15.3", credentials={f"ApiKey {WRITER}": grant}) as es:
        status, body = _post(es.url, ASKED, WRITER)
    assert status == 200
    assert body == {"username": "writer", "has_all_requested": True, "cluster": {"monitor": True},
                    "index": {"logs-shipper.*-default": {"create_doc": True, "auto_configure": True}},
                    "application": {}}


def test_h3_check_accepts_a_key_whose_write_privilege_holds_create_doc(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text(WRITER)
    key.chmod(0o600)
    grant = Grant(user="writer", cluster={"monitor"}, index={"write", "auto_configure"})
    with FakeES("8.15.3", credentials={f"ApiKey {WRITER}": grant}) as es:
        config = tmp_path / "shipper.yml"
        config.write_text(f"output:\n  elasticsearch:\n    api_key_file: {key}\n")
        env = make_env()
        run_command("check", ["--es-url", es.url, "--config", str(config)], env)
    assert "ok    privileges of 'writer': create_doc, auto_configure on logs-shipper.*-default; monitor" in out(env)


def test_h3_the_sink_probe_names_the_privileges_a_key_lacks_and_passes_without_security(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text(WRITER)
    reader = Grant(user="writer", cluster={"monitor"}, index={"read"})
    with FakeES("8.15.3", credentials={f"ApiKey {WRITER}": reader}) as es:
        sink = ElasticsearchSink(ElasticsearchOutput(hosts=[es.url], api_key_file=key, namespace="prod"),
                                 tmp_path / "state", make_env(), check_setup=False)
        sink.open(Acks())
        try:
            with pytest.raises(UnavailableError) as caught:
                sink.check_writable()
        finally:
            sink.close()
    assert caught.value.message == (f"the credentials for Elasticsearch at {es.url} (user 'writer') may not write to "
                                    "shipper's data streams: they lack create_doc on logs-shipper.*-prod, "
                                    "auto_configure on logs-shipper.*-prod")
    assert "deploy/elasticsearch-role.json" in str(caught.value.hint)
    with FakeES("8.15.3", security=False) as es:
        env = make_env()
        sink = ElasticsearchSink(ElasticsearchOutput(hosts=[es.url]), tmp_path / "state", env, check_setup=False)
        sink.open(Acks())
        try:
            sink.check_writable()  # nothing to check: no error, no warning
        finally:
            sink.close()
        assert err(env) == "" and [p for _, p, _ in es.cluster.log].count("/_security/user/_has_privileges") == 1

