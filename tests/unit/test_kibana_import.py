"""`shipper setup --kibana`: the saved-objects import, against a server speaking Kibana's import protocol.

The server below answers as Kibana documents it (docs/api/saved-objects/import.asciidoc and the
`SavedObjectsImportResponse` types): 400 without ``kbn-xsrf``, 401 with a wrong credential, 404 for
an unknown space, and a 200 whose ``successResults`` say ``overwrite: true`` for an object that
existed, and whose ``errors`` carry ``missing_references`` / ``unsupported_type`` per object.
"""

from __future__ import annotations

import argparse
import base64
import json
import socket
import threading
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from shipper.config.elasticsearch import ElasticsearchOutput
from shipper.env import Env
from shipper.errors import ExitCode, UnavailableError, UsageError
from shipper.setup.kibana import (
    DASHBOARD_ID,
    add_kibana_arguments,
    import_saved_objects,
    parse_import_response,
    run_kibana_setup,
    saved_objects,
)

KIBANA_TYPES = frozenset({"index-pattern", "search", "dashboard", "visualization", "lens", "config"})
UNAUTHORIZED = ("[security_exception\n\tRoot causes:\n\t\tsecurity_exception: unable to authenticate user [elastic] "
                "for REST request [/_security/_authenticate]]: unable to authenticate user [elastic] for REST "
                "request [/_security/_authenticate]")


class FakeKibana:
    """Saved objects per space, imported as Kibana's `importSavedObjectsFromStream` does."""

    def __init__(self, *, authorization: str | None = None, spaces: tuple[str, ...] = ("default",),
                 types: frozenset[str] = KIBANA_TYPES) -> None:
        self.authorization = authorization
        self.types = types
        self.spaces: dict[str, dict[tuple[str, str], dict[str, Any]]] = {s: {} for s in spaces}
        self.received: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                status, body = fake.handle(self.path, dict(self.headers.items()), self.rfile.read(length))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json; charset=utf-8")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def handle(self, target: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        headers = {k.lower(): v for k, v in headers.items()}
        url = urlsplit(target)
        space, path = "default", url.path
        if path.startswith("/s/"):
            _, _, space, path = path.split("/", 3)
            path = "/" + path
        self.received.append({"space": space, "path": path, "query": parse_qs(url.query), "headers": headers})
        if path != "/api/saved_objects/_import":
            return 404, {"statusCode": 404, "error": "Not Found", "message": "Not Found"}
        if "kbn-xsrf" not in headers:
            return 400, {"statusCode": 400, "error": "Bad Request", "message": "Request must contain a kbn-xsrf header."}
        if self.authorization is not None and headers.get("authorization") != self.authorization:
            return 401, {"statusCode": 401, "error": "Unauthorized", "message": UNAUTHORIZED}
        if space not in self.spaces:
            return 404, {"statusCode": 404, "error": "Not Found", "message": f"Saved object [space/{space}] not found"}
        file = _form_file(headers.get("content-type", ""), body)
        if file is None:
            return 400, {"statusCode": 400, "error": "Bad Request",
                         "message": "[request body.file]: expected value of type [Stream] but got [undefined]"}
        self.received[-1]["file"] = file
        return 200, self._import(self.spaces[space], file, overwrite=parse_qs(url.query).get("overwrite") == ["true"])

    def _import(self, store: dict[tuple[str, str], dict[str, Any]], file: bytes, *, overwrite: bool) -> dict[str, Any]:
        objects = [json.loads(line) for line in file.splitlines() if line.strip()]
        in_file = {(o["type"], o["id"]) for o in objects}
        errors: list[dict[str, Any]] = []
        results: list[dict[str, Any]] = []
        for obj in objects:
            key = (obj["type"], obj["id"])
            meta = {"title": obj["attributes"].get("title"), "icon": "app"}
            if obj["type"] not in self.types:
                errors.append({"id": obj["id"], "type": obj["type"], "title": meta["title"], "meta": meta,
                               "error": {"type": "unsupported_type"}})
                continue
            missing = [{"type": r["type"], "id": r["id"]} for r in obj.get("references", [])
                       if (r["type"], r["id"]) not in in_file and (r["type"], r["id"]) not in store]
            if missing:
                errors.append({"id": obj["id"], "type": obj["type"], "title": meta["title"], "meta": meta,
                               "error": {"type": "missing_references", "references": missing}})
                continue
            if key in store and not overwrite:
                errors.append({"id": obj["id"], "type": obj["type"], "title": meta["title"], "meta": meta,
                               "error": {"type": "conflict"}})
                continue
            result = {"id": obj["id"], "type": obj["type"], "meta": meta}
            if key in store:
                result["overwrite"] = True
            store[key] = obj
            results.append(result)
        answer: dict[str, Any] = {"success": not errors, "successCount": len(results), "warnings": []}
        if results:
            answer["successResults"] = results
        if errors:
            answer["errors"] = errors
        return answer


def _form_file(content_type: str, body: bytes) -> bytes | None:
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    if not message.is_multipart():
        return None
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "file":
            payload = part.get_payload(decode=True)
            return payload if isinstance(payload, bytes) else None
    return None


@pytest.fixture
def kibana() -> Iterator[FakeKibana]:
    fake = FakeKibana(spaces=("default", "ops"))
    yield fake
    fake.close()


def _env(environ: dict[str, str] | None = None) -> Env:
    import io
    return Env(stdin=io.BytesIO(), stdout=io.StringIO(), stderr=io.StringIO(), environ=environ or {},
               clock=lambda: 1_504_100_000.0)


def _objects() -> list[dict[str, Any]]:
    return [json.loads(line) for line in saved_objects().splitlines()]


def test_first_import_creates_every_object_and_sends_the_file_as_kibana_expects(kibana: FakeKibana) -> None:
    result = import_saved_objects(kibana.url, ElasticsearchOutput(), _env())
    assert [(o.type, o.id, o.outcome) for o in result.objects] == [(o["type"], o["id"], "created") for o in _objects()]
    request = kibana.received[-1]
    assert request["query"] == {"overwrite": ["true"]} and request["space"] == "default"
    assert request["headers"]["kbn-xsrf"] and request["file"] == saved_objects()
    assert set(kibana.spaces["default"]) == {(o["type"], o["id"]) for o in _objects()}
    assert result.ok and result.dashboard_url == f"{kibana.url}/app/dashboards#/view/{DASHBOARD_ID}"
    assert result.lines()[-2] == "kibana: 6 created, 0 updated, 0 failed"


def test_second_import_updates_instead_of_duplicating(kibana: FakeKibana) -> None:
    import_saved_objects(kibana.url, ElasticsearchOutput(), _env())
    again = import_saved_objects(kibana.url, ElasticsearchOutput(), _env())
    assert {o.outcome for o in again.objects} == {"updated"}
    assert len(kibana.spaces["default"]) == len(_objects())
    assert 'updated  dashboard "Root causes" (shipper-root-causes-dashboard)' in "\n".join(again.lines())


def test_import_into_a_space_uses_its_path(kibana: FakeKibana) -> None:
    result = import_saved_objects(kibana.url, ElasticsearchOutput(), _env(), space="ops")
    assert kibana.received[-1]["space"] == "ops" and len(kibana.spaces["ops"]) == len(_objects())
    assert not kibana.spaces["default"]
    assert result.dashboard_url.endswith(f"/s/ops/app/dashboards#/view/{DASHBOARD_ID}")


def test_per_object_errors_are_reported_object_by_object(kibana: FakeKibana) -> None:
    without_data_view = b"\n".join(line for line in saved_objects().splitlines()
                                   if json.loads(line)["type"] != "index-pattern")
    result = import_saved_objects(kibana.url, ElasticsearchOutput(), _env(), ndjson=without_data_view)
    assert not result.ok and result.count("created") == 0
    failed = {o.id: o.detail for o in result.objects if o.outcome == "failed"}
    assert set(failed) == {o["id"] for o in _objects() if o["type"] != "index-pattern"}
    assert all("index-pattern shipper-logs" in detail for detail in failed.values())
    assert result.lines()[-1] == "kibana: 0 created, 0 updated, 5 failed"


def test_a_kibana_without_a_type_says_which_objects_it_refused() -> None:
    old = FakeKibana(types=KIBANA_TYPES - {"search"})
    try:
        result = import_saved_objects(old.url, ElasticsearchOutput(), _env())
    finally:
        old.close()
    by_type = {o.type: o for o in result.objects}
    assert by_type["search"].outcome == "failed" and "does not know this type" in by_type["search"].detail
    assert by_type["index-pattern"].outcome == "created"


def test_401_names_the_credentials_and_never_shows_the_password(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("s3cr3t-Pa55\n")
    fake = FakeKibana(authorization="Basic " + base64.b64encode(b"elastic:right").decode())
    try:
        with pytest.raises(UnavailableError) as err:
            import_saved_objects(fake.url, ElasticsearchOutput(username="elastic", password_file=secret), _env())
        sent = fake.received[-1]["headers"]["authorization"]
    finally:
        fake.close()
    assert sent == "Basic " + base64.b64encode(b"elastic:s3cr3t-Pa55").decode()
    assert "rejected the credentials (401)" in str(err.value) and "unable to authenticate" in str(err.value)
    assert "s3cr3t" not in str(err.value) and "password_" in (err.value.hint or "")


def test_api_key_from_the_environment_is_sent_as_kibana_expects() -> None:
    fake = FakeKibana(authorization="ApiKey " + base64.b64encode(b"key-id:key-secret").decode())
    try:
        result = import_saved_objects(fake.url, ElasticsearchOutput(api_key_env="SHIPPER_KEY"),
                                      _env({"SHIPPER_KEY": "key-id:key-secret"}))
    finally:
        fake.close()
    assert result.ok


def test_unknown_space_is_a_clear_error(kibana: FakeKibana) -> None:
    with pytest.raises(UnavailableError, match="has no space 'sales'"):
        import_saved_objects(kibana.url, ElasticsearchOutput(), _env(), space="sales")


def test_bad_space_id_and_bad_url_are_usage_errors(kibana: FakeKibana) -> None:
    with pytest.raises(UsageError, match="not a Kibana space id"):
        import_saved_objects(kibana.url, ElasticsearchOutput(), _env(), space="Ops Team")
    with pytest.raises(UsageError, match="credentials may not be written"):
        import_saved_objects("http://elastic:pw@localhost:5601", ElasticsearchOutput(), _env())


def test_unreachable_kibana_says_where_and_what_to_check() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(UnavailableError) as err:
        import_saved_objects(f"http://127.0.0.1:{port}", ElasticsearchOutput(), _env())
    assert f"cannot reach Kibana at http://127.0.0.1:{port}" in str(err.value) and "refused" in str(err.value).lower()


def test_setup_wiring_prints_each_object_and_fails_on_per_object_errors() -> None:
    parser = argparse.ArgumentParser()
    add_kibana_arguments(parser)
    old = FakeKibana(types=KIBANA_TYPES - {"dashboard"})
    env = _env()
    try:
        code = run_kibana_setup(parser.parse_args(["--kibana", old.url]), ElasticsearchOutput(), env)
    finally:
        old.close()
    text = env.stdout.getvalue()  # type: ignore[attr-defined]
    assert code == ExitCode.OUTPUT
    assert 'created  data view "logs-shipper.*-*,-logs-shipper.deadletter-*" (shipper-logs)' in text
    assert 'failed   dashboard "Root causes" (shipper-root-causes-dashboard): this Kibana does not know' in text


def test_parse_response_reports_new_ids_and_objects_kibana_left_out() -> None:
    ndjson = b'{"type":"dashboard","id":"a","attributes":{"title":"A"}}\n{"type":"search","id":"b","attributes":{"title":"B"}}\n'
    answer = {"success": True, "successCount": 1,
              "successResults": [{"id": "a", "type": "dashboard", "destinationId": "c0ffee", "meta": {"title": "A"}}]}
    out = parse_import_response(answer, ndjson)
    assert [(o.id, o.outcome, o.detail) for o in out] == [
        ("a", "created", "stored with the new id c0ffee"), ("b", "failed", "Kibana did not report on it")]
    with pytest.raises(UnavailableError, match="unexpected"):
        parse_import_response("<html>proxy error</html>", ndjson)


def test_shipper_setup_with_kibana_installs_es_assets_then_imports_the_views(kibana: FakeKibana) -> None:
    from tests.fakees import FakeES
    from tests.helpers.es import make_env, run_command

    env = make_env()
    with FakeES("9.1.0") as es:
        code = run_command("setup", ["--es-url", es.url, "--kibana", kibana.url, "--space", "ops"], env)
        assert es.cluster.index_templates  # the Elasticsearch assets came first
    text = env.stdout.getvalue()  # type: ignore[attr-defined]
    assert code == ExitCode.OK
    assert "setup: 9 changed" in text
    assert 'created  dashboard "Root causes"' in text
    assert kibana.received[-1]["space"] == "ops" and kibana.received[-1]["path"] == "/api/saved_objects/_import"
