"""The Elasticsearch client: hosts, authentication, TLS, and the REST API version it speaks.

The official 9.x client marks every request ``compatible-with=9``, which an 8.x server refuses
(400 ``media_type_header_exception``). So the first request (``GET /``) goes out without a
compatibility marker, the server's major version is read from the answer, and from then on every
request asks for ``compatible-with=min(server, client)``: 8 for an 8.x server, 9 for 9.x (and for
a 10.x server, which accepts the previous major). One client works with both, tested on both.
"""

from __future__ import annotations

import base64
import re
import ssl
from dataclasses import dataclass
from typing import Any, Mapping

import elasticsearch
from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import HttpHeaders, TlsError, Transport, TransportApiResponse
from elastic_transport.client_utils import DefaultType
from elasticsearch import ApiError, Elasticsearch, UnsupportedProductError
from elasticsearch.serializer import NdjsonSerializer, OrjsonSerializer, Serializer

from shipper.config.elasticsearch import ElasticsearchOutput
from shipper.env import Env
from shipper.errors import ConfigError, UnavailableError
from shipper.secrets import load_secret, register
from shipper.sinks.es_errors import connection_reason, error_reason

CLIENT_MAJOR = int(elasticsearch.__versionstr__.partition(".")[0])
OLDEST_SERVER_MAJOR = 8
_COMPAT = re.compile(r"application/vnd\.elasticsearch\+([\w-]+); ?compatible-with=\d+")
_SSL_LOCATION = re.compile(r"\s*\(_ssl\.c:\d+\)")  # where in CPython's _ssl.c: nothing for the operator
# What OpenSSL says when the answer to its hello is not TLS at all: the port speaks plain HTTP.
_NOT_TLS = frozenset({"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG"})
KEY = "output.elasticsearch"


class CompatTransport(Transport):
    """Rewrites the client's ``compatible-with`` marker to the version the server accepts.

    ``compat`` None sends plain ``application/json`` (what any version accepts: used until the
    server's version is known).
    """

    compat: int | None = None

    def perform_request(self, method: str, target: str, **kwargs: Any) -> TransportApiResponse:
        headers = kwargs.get("headers")
        if self.compat != CLIENT_MAJOR and headers is not None and not isinstance(headers, DefaultType):
            kwargs["headers"] = _rewrite(headers, self.compat)
        return super().perform_request(method, target, **kwargs)


def _rewrite(headers: Mapping[str, Any], compat: int | None) -> HttpHeaders:
    out = HttpHeaders(headers)
    for name in ("accept", "content-type"):
        value = out.get(name)
        if value:
            if compat is None:
                out[name] = _COMPAT.sub(r"application/\1", value)
            else:
                out[name] = _COMPAT.sub(rf"application/vnd.elasticsearch+\1; compatible-with={compat}", value)
    return out


class RawJsonSerializer(OrjsonSerializer):
    """JSON answers kept as the bytes that came (requests still serialised with orjson).

    Bulk replies are read by `shipper.sinks.bulk.read_reply`, which settles the common cases
    (every item created, or already there) on the raw bytes without building a dict per item (5,000 by default).
    """

    def loads(self, data: bytes) -> bytes:
        return data


class NdjsonBodySerializer(NdjsonSerializer):
    """A bulk body that is already one ``bytes`` NDJSON object goes out as it is, not copied twice."""

    def dumps(self, data: Any) -> bytes:
        return data if isinstance(data, bytes) else super().dumps(data)


BULK_SERIALIZERS = {"application/json": RawJsonSerializer(), "application/x-ndjson": NdjsonBodySerializer()}


@dataclass
class Connection:
    """A client that has talked to the server: its version is known and the API version set.

    ``bulk`` (when asked for) is a second client on the same settings and its own connections,
    configured for bulk requests: its answers are raw bytes (`RawJsonSerializer`).
    """

    client: Elasticsearch
    where: str  # for messages: the URL(s) or "Elastic Cloud deployment <name>"
    version: str
    cluster_name: str
    bulk: Elasticsearch | None = None

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    def close(self) -> None:
        self.client.close()
        if self.bulk is not None:
            self.bulk.close()


def where(cfg: ElasticsearchOutput) -> str:
    if cfg.cloud_id:
        return f"Elastic Cloud deployment {cfg.cloud_id.partition(':')[0] or '(unnamed)'}"
    return ", ".join(cfg.hosts)


def client_options(cfg: ElasticsearchOutput, env: Env) -> dict[str, Any]:
    """The client's settings for ``cfg``. Secrets are read here, from files or env vars."""
    options: dict[str, Any] = dict(
        request_timeout=float(cfg.request_timeout),
        max_retries=0,  # shipper retries itself: bounded, with backoff, and item by item
        retry_on_timeout=False,
        connections_per_node=max(4, cfg.max_in_flight + 2),
        http_compress=cfg.compression == "gzip",  # gzip request bodies (after serialisation, on the worker)
        transport_class=CompatTransport,
    )
    if cfg.cloud_id:
        options["cloud_id"] = cfg.cloud_id
    else:
        options["hosts"] = list(cfg.hosts)
    options.update(auth_options(cfg, env.environ))
    options.update(tls_options(cfg, env))
    return options


def build_client(cfg: ElasticsearchOutput, env: Env, options: dict[str, Any] | None = None,
                 serializers: Mapping[str, Serializer] | None = None) -> Elasticsearch:
    """A client for ``cfg`` (no request made yet), on ``options`` if already read."""
    options = client_options(cfg, env) if options is None else options
    if serializers is None:
        client = Elasticsearch(**options, serializer=OrjsonSerializer())
    else:
        client = Elasticsearch(**options, serializers=serializers)
    _transport(client).compat = None
    return client


def _transport(client: Elasticsearch) -> CompatTransport:
    transport = client.transport
    assert isinstance(transport, CompatTransport)
    return transport


def auth_options(cfg: ElasticsearchOutput, environ: Mapping[str, str]) -> dict[str, Any]:
    api_key = load_secret("the API key", file=cfg.api_key_file, env_var=cfg.api_key_env, environ=environ,
                          key=f"{KEY}.api_key", header=True)
    password = load_secret("the password", file=cfg.password_file, env_var=cfg.password_env, environ=environ,
                           key=f"{KEY}.password")
    token = load_secret("the bearer token", file=cfg.bearer_token_file, env_var=cfg.bearer_token_env,
                        environ=environ, key=f"{KEY}.bearer_token", header=True)
    if api_key is not None:  # (one way at most: `ElasticsearchOutput._check_auth`)
        if ":" in api_key:  # id:key, as `POST _security/api_key` returns them separately
            key_id, _, secret = api_key.partition(":")
            register(secret)
            return {"api_key": (key_id, secret)}
        return {"api_key": api_key}
    if password is not None and cfg.username is not None:
        # Encoded here as UTF-8, as Elasticsearch reads it: the client encodes a (user, password)
        # pair as ASCII and fails on any other character.
        encoded = base64.b64encode(f"{cfg.username}:{password}".encode()).decode("ascii")
        register(f"{cfg.username}:{password}")
        register(encoded)
        return {"basic_auth": encoded}
    if token is not None:
        return {"bearer_auth": token}
    return {}


def tls_options(cfg: ElasticsearchOutput, env: Env) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("ca_file", "client_cert", "client_key"):
        path = getattr(cfg, name)
        if path is not None and not path.is_file():
            raise ConfigError(f"{KEY}.{name}: {path} does not exist or is not a file",
                              hint="give the path of a PEM file readable by shipper")
    if cfg.ca_file is not None:
        out["ca_certs"] = str(cfg.ca_file)
    if cfg.client_cert is not None:
        out["client_cert"] = str(cfg.client_cert)
    if cfg.client_key is not None:
        out["client_key"] = str(cfg.client_key)
    if cfg.ssl_fingerprint is not None:
        out["ssl_assert_fingerprint"] = cfg.ssl_fingerprint.replace(":", "").lower()
    if not cfg.verify_certs:
        env.stderr.write(
            f"shipper: warning: TLS certificate verification is OFF for {where(cfg)} "
            f"({KEY}.verify_certs: false): anyone on the path can read and change what is sent\n"
        )
        out["verify_certs"] = False
        out["ssl_show_warn"] = False
    return out


def connect(cfg: ElasticsearchOutput, env: Env, *, bulk: bool = False) -> Connection:
    """Build the client, read the server's version, and set the API version both understand;
    with ``bulk``, also the client for bulk requests."""
    options = client_options(cfg, env)
    client = build_client(cfg, env, options)
    place = where(cfg)
    try:
        info = client.info().body
    except Exception as exc:
        client.close()
        raise unavailable(exc, place, doing="read the server version") from None
    version = str(info.get("version", {}).get("number", "0"))
    major = int(version.split(".")[0]) if version[:1].isdigit() else 0
    if major < OLDEST_SERVER_MAJOR:
        client.close()
        raise UnavailableError(f"Elasticsearch {version} at {place} is too old: shipper needs 8.x or 9.x",
                               hint="upgrade the cluster to 8.x or later")
    if major > CLIENT_MAJOR + 1:
        client.close()
        raise UnavailableError(f"Elasticsearch {version} at {place} is newer than this shipper's client "
                               f"({elasticsearch.__versionstr__}) can talk to", hint="upgrade shipper")
    _transport(client).compat = min(major, CLIENT_MAJOR)
    conn = Connection(client, place, version, str(info.get("cluster_name", "")))
    if bulk:
        conn.bulk = build_client(cfg, env, options, BULK_SERIALIZERS)
        _transport(conn.bulk).compat = _transport(client).compat
    return conn


def unavailable(exc: BaseException, place: str, *, doing: str) -> UnavailableError:
    """A failed request as one line for the operator: what, where, and what to do."""
    if isinstance(exc, UnsupportedProductError):
        return UnavailableError(f"the server at {place} is not Elasticsearch", hint="check output.elasticsearch.hosts")
    if isinstance(exc, ApiError):
        status, reason = exc.meta.status, error_reason(exc.body)
        if status == 401:
            return UnavailableError(f"Elasticsearch at {place} rejected the credentials (401): {reason}",
                                    hint=f"check {KEY}.api_key_file (or password/bearer token) and that the key is not expired")
        if status == 403:
            return UnavailableError(f"Elasticsearch at {place} refused to let shipper {doing} (403): {reason}",
                                    hint="grant the privileges in deploy/elasticsearch-role.json; `shipper check` lists what is missing")
        return UnavailableError(f"Elasticsearch at {place} answered {status} when shipper tried to {doing}: {reason}")
    if isinstance(exc, TlsError):
        return tls_failure(exc, place, hint=f"set {KEY}.ca_file to the cluster's CA, or {KEY}.ssl_fingerprint",
                           plain_http_hint=f"use {place.replace('https://', 'http://')} in {KEY}.hosts (or "
                                           "--es-url), or turn TLS on in Elasticsearch (xpack.security.http.ssl)")
    if isinstance(exc, TransportConnectionError):
        return UnavailableError(f"cannot reach Elasticsearch at {place}: {connection_reason(exc)}",
                                hint=f"is it running, and is {KEY}.hosts right?")
    return UnavailableError(f"talking to Elasticsearch at {place} failed: {type(exc).__name__}: {exc}")


def tls_failure(exc: BaseException, where: str, *, hint: str, plain_http_hint: str) -> UnavailableError:
    """A failed TLS handshake with ``where``: OpenSSL's whole reason, and ``hint``; or, when the
    server answered with something that is not TLS (a plain-HTTP port), that and ``plain_http_hint``."""
    error = _ssl_error(exc)
    text = str(error.args[1]) if error is not None and len(error.args) > 1 else str(getattr(exc, "message", "") or exc)
    reason = _SSL_LOCATION.sub("", text).strip()
    if error is not None and getattr(error, "reason", None) in _NOT_TLS:
        return UnavailableError(f"TLS with {where} failed: {reason}: the server there speaks plain HTTP, not TLS",
                                hint=plain_http_hint)
    return UnavailableError(f"TLS with {where} failed: {reason}", hint=hint)


def _ssl_error(exc: BaseException) -> ssl.SSLError | None:
    """The `ssl.SSLError` under the client's and urllib3's wrappers (None if there is none)."""
    todo, seen = [exc], set()
    while todo:
        current = todo.pop()
        if isinstance(current, ssl.SSLError):
            return current
        seen.add(id(current))
        linked = (current.__cause__, current.__context__, *current.args, *getattr(current, "errors", ()))
        todo += [e for e in linked if isinstance(e, BaseException) and id(e) not in seen]
    return None
