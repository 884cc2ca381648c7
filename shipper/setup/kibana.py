"""Import shipper's Kibana saved objects (data view, saved searches, the "Root causes" dashboard).

One request: ``POST [/s/<space>]/api/saved_objects/_import?overwrite=true``, multipart, with the
``kbn-xsrf`` header Kibana requires. The objects have stable ids, so importing again updates
them instead of adding copies. Kibana is reached with the credentials and TLS settings of
``output.elasticsearch`` (an API key, a user or a token Elasticsearch accepts is one Kibana
accepts too). The answer is read as Kibana documents it (``success``, ``successCount``,
``successResults`` with ``overwrite``/``destinationId``, ``errors`` with ``error.type``) and
reported object by object: created, updated, or failed and why.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import uuid
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import SplitResult, urlsplit

from shipper.config.elasticsearch import ElasticsearchOutput
from shipper.env import Env
from shipper.errors import ConfigError, ExitCode, UnavailableError, UsageError

if TYPE_CHECKING:  # the HTTP client is imported when used: `shipper --help` stays quick
    from elastic_transport import Urllib3HttpNode

ASSET = "shipper.ndjson"
DASHBOARD_ID = "shipper-root-causes-dashboard"
_SPACE = re.compile(r"^[a-z0-9_-]{1,100}$")
_LABELS = {"index-pattern": "data view", "search": "saved search", "dashboard": "dashboard", "lens": "Lens visualization"}

Outcome = Literal["created", "updated", "failed"]


@dataclass
class ImportedObject:
    type: str
    id: str
    title: str
    outcome: Outcome
    detail: str = ""

    def line(self) -> str:
        what = f'{_LABELS.get(self.type, self.type)} "{self.title}" ({self.id})' if self.title else f"{self.type} {self.id}"
        return f"{self.outcome:<8} {what}" + (f": {self.detail}" if self.detail else "")


@dataclass
class KibanaImport:
    where: str  # Kibana's URL and the space, for messages
    dashboard_url: str
    objects: list[ImportedObject] = field(default_factory=list)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for o in self.objects if o.outcome == outcome)

    @property
    def ok(self) -> bool:
        return self.count("failed") == 0

    def lines(self) -> list[str]:
        out = [f"Kibana at {self.where}:"]
        out += [f"  {o.line()}" for o in self.objects]
        out.append(f"kibana: {self.count('created')} created, {self.count('updated')} updated, {self.count('failed')} failed")
        if self.ok:
            out.append(f"dashboard: {self.dashboard_url}")
        return out


def saved_objects() -> bytes:
    """The NDJSON shipped in the wheel (``shipper/assets/kibana/``, the same as ``kibana/``)."""
    return (resources.files("shipper") / "assets" / "kibana" / ASSET).read_bytes()


def add_kibana_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kibana", metavar="URL",
                   help="also import the Kibana data view, saved searches and 'Root causes' dashboard into this Kibana "
                        "(same credentials and TLS settings as output.elasticsearch)")
    p.add_argument("--space",
                   help="the Kibana space to import into (default: the default space); needs --kibana or "
                        "output.elasticsearch.kibana_url")


def kibana_target(args: argparse.Namespace, es: ElasticsearchOutput) -> str | None:
    """The Kibana `shipper setup` imports into (--kibana, else ``kibana_url``), checked before
    anything is done: an error for a URL without http(s):// (Kibana gets the credentials of
    output.elasticsearch: shipper does not guess plain http for them), and for --space without
    a Kibana."""
    if args.kibana:
        _split(args.kibana, "--kibana", UsageError)
        return str(args.kibana)
    if es.kibana_url:
        _split(es.kibana_url, "output.elasticsearch.kibana_url", ConfigError)
        return es.kibana_url
    if args.space is not None:
        raise UsageError(f"--space {args.space} needs a Kibana URL: there is no --kibana, nor "
                         "output.elasticsearch.kibana_url in the config",
                         hint="add --kibana https://KIBANA:5601, or leave --space out")
    return None


def run_kibana_setup(args: argparse.Namespace, es: ElasticsearchOutput, env: Env) -> int:
    """What `shipper setup --kibana URL [--space ID]` does after the Elasticsearch assets."""
    result = import_saved_objects(args.kibana, es, env, space=args.space or "default")
    for line in result.lines():
        env.stdout.write(line + "\n")
    return ExitCode.OK if result.ok else ExitCode.OUTPUT


def import_saved_objects(url: str, es: ElasticsearchOutput, env: Env, *, space: str = "default",
                         ndjson: bytes | None = None) -> KibanaImport:
    """Import ``ndjson`` (default: shipper's objects) into ``space`` of the Kibana at ``url``."""
    from elastic_transport import HttpHeaders, TlsError, TransportError

    from shipper.sinks.es_client import tls_failure
    from shipper.sinks.es_errors import connection_reason

    if not _SPACE.match(space):
        raise UsageError(f"--space {space!r} is not a Kibana space id",
                         hint="a space id is made of lowercase letters, digits, '_' and '-' (see Stack Management > Spaces)")
    node, base = _node(url, es, env)
    prefix = "" if space == "default" else f"/s/{space}"
    where = f"{base} (space {space})"
    payload = ndjson if ndjson is not None else saved_objects()
    body, content_type = _multipart(payload)
    try:
        headers = HttpHeaders({"kbn-xsrf": "shipper", "content-type": content_type, "accept": "application/json"})
        resp = node.perform_request("POST", f"{prefix}/api/saved_objects/_import?overwrite=true", body=body,
                                    headers=headers)
    except TlsError as exc:
        raise tls_failure(exc, f"Kibana at {base}",
                          hint="set output.elasticsearch.ca_file to the CA that signed Kibana's certificate",
                          plain_http_hint=f"use --kibana {base.replace('https://', 'http://', 1)}, or turn TLS on in "
                                          "Kibana (server.ssl.enabled)") from None
    except TransportError as exc:
        raise UnavailableError(f"cannot reach Kibana at {base}: {connection_reason(exc)}",
                               hint="is Kibana running, and is the --kibana URL right (default port 5601)?") from None
    finally:
        node.close()
    answer = _json(resp.body)
    if resp.meta.status != 200:
        raise _refused(resp.meta.status, answer, base, space)
    return KibanaImport(where, f"{base}{prefix}/app/dashboards#/view/{DASHBOARD_ID}",
                        parse_import_response(answer, payload))


def parse_import_response(answer: Any, ndjson: bytes) -> list[ImportedObject]:
    """Each object of ``ndjson`` with what Kibana did with it (its 200 answer, as documented)."""
    if not isinstance(answer, dict) or "success" not in answer:
        raise UnavailableError(f"Kibana answered the import with something unexpected: {str(answer)[:200]}")
    done: dict[tuple[str, str], ImportedObject] = {}
    for item in answer.get("successResults") or []:
        key = (str(item.get("type")), str(item.get("id")))
        moved = item.get("destinationId")
        done[key] = ImportedObject(*key, _title(item), "updated" if item.get("overwrite") else "created",
                                   f"stored with the new id {moved}" if moved else "")
    for item in answer.get("errors") or []:
        key = (str(item.get("type")), str(item.get("id")))
        done[key] = ImportedObject(*key, _title(item), "failed", _error_text(item.get("error") or {}))
    out = []
    for key, title in _file_objects(ndjson):
        found = done.pop(key) if key in done else ImportedObject(*key, title, "failed", "Kibana did not report on it")
        out.append(found)
    return out + list(done.values())


def _error_text(error: dict[str, Any]) -> str:
    kind = error.get("type")
    if kind == "missing_references":
        refs = ", ".join(f"{r.get('type')} {r.get('id')}" for r in error.get("references") or [])
        return f"it refers to objects that exist neither in the file nor in the space: {refs}"
    if kind == "unsupported_type":
        return "this Kibana does not know this type of object (shipper's objects need Kibana 8.9 or later)"
    if kind == "conflict":
        other = error.get("destinationId")
        return f"conflicts with the existing object {other}" if other else "conflicts with an existing object"
    if kind == "ambiguous_conflict":
        ids = ", ".join(str(d.get("id")) for d in error.get("destinations") or [])
        return f"several existing objects could be the one to overwrite ({ids}); resolve it in Stack Management > Saved Objects"
    if kind == "unknown":
        return f"{error.get('message', 'an unknown error')} (status {error.get('statusCode', '?')})"
    return f"{kind}: {json.dumps(error)[:200]}"


def _refused(status: int, answer: Any, base: str, space: str) -> UnavailableError:
    message = answer.get("message") if isinstance(answer, dict) else None
    reason = str(message or answer or "no message")[:300]
    if status == 401:
        return UnavailableError(f"Kibana at {base} rejected the credentials (401): {reason}",
                                hint="Kibana is reached with output.elasticsearch's api_key_*, username/password_* or "
                                     "bearer_token_*; check them (and that the key has not expired)")
    if status == 403:
        return UnavailableError(f"Kibana at {base} refused to import saved objects into space {space} (403): {reason}",
                                hint="the user needs 'All' on Saved Objects Management (or on Discover, Dashboard and "
                                     "Data View Management) in that space")
    if status == 404 and space != "default":
        return UnavailableError(f"Kibana at {base} has no space {space!r} (404): {reason}",
                                hint="create it in Stack Management > Spaces, or pick another with --space")
    if status == 404:
        return UnavailableError(f"no Kibana import API at {base} (404): {reason}",
                                hint="is --kibana the URL of Kibana (with its base path, if any), not of Elasticsearch?")
    if status == 413:
        return UnavailableError(f"Kibana at {base} refused the file as too large (413): {reason}",
                                hint="raise savedObjects.maxImportPayloadBytes in kibana.yml")
    return UnavailableError(f"Kibana at {base} answered {status} to the saved objects import: {reason}")


def _node(url: str, es: ElasticsearchOutput, env: Env) -> tuple[Urllib3HttpNode, str]:
    from elastic_transport import NodeConfig, Urllib3HttpNode

    from shipper.sinks.es_client import tls_options

    parts = _split(url, "--kibana", UsageError)
    assert parts.hostname is not None  # (`_split` checked it)
    port = parts.port or {"http": 80, "https": 443}[parts.scheme]
    prefix = parts.path.rstrip("/")
    headers = {"authorization": auth} if (auth := _authorization(es, env)) else {}
    config = NodeConfig(parts.scheme, parts.hostname, port, path_prefix=prefix, headers=headers,
                        request_timeout=float(es.request_timeout), **tls_options(es, env))
    return Urllib3HttpNode(config), f"{parts.scheme}://{parts.netloc}{prefix}"


def _split(url: str, source: str, error: type[UsageError] | type[ConfigError]) -> SplitResult:
    """``url`` in parts: http(s), a host, no credentials; else ``error`` naming ``source``."""
    parts = urlsplit(url)
    if "://" not in url:
        raise error(f"{source} {url!r} needs http:// or https:// in front: shipper sends the credentials of "
                    "output.elasticsearch to Kibana, and does not guess whether they may go unencrypted",
                    hint=f"e.g. https://{url} (http:// only for a Kibana without TLS)")
    try:
        port_ok = parts.port != 0
    except ValueError:
        port_ok = False
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise error(f"{source} {url!r} is not an http(s) URL", hint="e.g. https://kibana.example:5601")
    if parts.username or parts.password:
        raise error(f"{source}: credentials may not be written in the URL",
                    hint="they come from output.elasticsearch (api_key_file, username with password_file, ...)")
    return parts


def _authorization(es: ElasticsearchOutput, env: Env) -> str | None:
    """The Authorization header for the configured secret (already registered for redaction)."""
    from shipper.sinks.es_client import auth_options

    auth = auth_options(es, env.environ)
    if "api_key" in auth:
        key = auth["api_key"]
        encoded = key if isinstance(key, str) else base64.b64encode(f"{key[0]}:{key[1]}".encode()).decode()
        return f"ApiKey {encoded}"
    if "basic_auth" in auth:
        return f"Basic {auth['basic_auth']}"  # (encoded already)
    if "bearer_auth" in auth:
        return f"Bearer {auth['bearer_auth']}"
    return None


def _multipart(ndjson: bytes) -> tuple[bytes, str]:
    boundary = f"shipper-{uuid.uuid4().hex}"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{ASSET}\"\r\n"
            "Content-Type: application/ndjson\r\n\r\n").encode()
    return head + ndjson + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def _file_objects(ndjson: bytes) -> list[tuple[tuple[str, str], str]]:
    out = []
    for line in ndjson.splitlines():
        obj = json.loads(line) if line.strip() else {}
        if "type" in obj and "id" in obj:  # not a blank line, nor an export's summary line
            attrs = obj.get("attributes") or {}
            out.append(((str(obj.get("type")), str(obj.get("id"))), str(attrs.get("name") or attrs.get("title") or "")))
    return out


def _title(item: dict[str, Any]) -> str:
    meta = item.get("meta") or {}
    return str(meta.get("title") or item.get("title") or "")


def _json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return body[:300].decode("utf-8", "replace")
