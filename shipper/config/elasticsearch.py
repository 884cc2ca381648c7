"""Settings of the Elasticsearch output (``output.elasticsearch`` in the YAML).

Secrets are never values here: only the *file* or the *environment variable* that holds them
(``api_key_file``, ``password_env``, …), read at start by `shipper.secrets`.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from shipper.config.loader import ByteSize, Duration
from shipper.errors import UsageError

# Elastic's data stream naming scheme: logs-<dataset>-<namespace>; the namespace may not hold '-'.
_NAMESPACE = re.compile(r"^[a-z0-9_]{1,100}$")
_FINGERPRINT = re.compile(r"^([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$")
BULK_DOCS = 5000  # documents per bulk request by default (`ElasticsearchOutput.bulk_docs`)


def check_url(url: str, what: str, example: str = "https://es1.example:9200") -> None:
    """`ValueError` unless ``url`` is http(s)://HOST[:PORT][/PATH] without credentials (what the
    client takes; it fails on anything else with a message that names neither the key nor the fix)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or "://" not in url:
        raise ValueError(f"{what} {url!r} needs http:// or https:// in front, e.g. {example}")
    try:
        port = parts.port
    except ValueError:
        port = -1
    if not parts.hostname or port == -1 or port == 0:
        raise ValueError(f"{what} {url!r} is not a URL of the form https://HOST:PORT (a port is 1-65535)")
    if parts.username or parts.password:
        raise ValueError(
            f"{what} {parts.hostname}: credentials may not be written in a URL; "
            "use username with password_file, or api_key_file"
        )


def with_url(es: ElasticsearchOutput, url: str) -> ElasticsearchOutput:
    """``es`` at the URL given with --es-url (instead of its hosts or cloud_id)."""
    try:
        return dataclasses.replace(es, hosts=[url], cloud_id=None)
    except ValueError as exc:
        raise UsageError(f"--es-url: {exc}") from None


@dataclass
class ElasticsearchOutput:
    hosts: list[str] = field(
        default_factory=lambda: ["http://localhost:9200"],
        metadata={"help": "URLs such as [https://es1.example:9200]; credentials never go in a URL"},
    )
    cloud_id: str | None = field(default=None, metadata={"help": "the Cloud ID of an Elastic Cloud deployment"})
    namespace: str = field(
        default="default", metadata={"help": "lowercase letters, digits and _ (the data streams are logs-shipper.*-NAMESPACE)"}
    )
    # Authentication: an API key (preferred), a username with a password, or a bearer token.
    api_key_file: Path | None = field(default=None, metadata={"help": "a file holding the encoded API key (or id:key)"})
    api_key_env: str | None = field(default=None, metadata={"help": "an environment variable holding the API key"})
    username: str | None = None
    password_file: Path | None = None
    password_env: str | None = None
    bearer_token_file: Path | None = None
    bearer_token_env: str | None = None
    # TLS: verified by default; turning verification off is explicit and logged.
    ca_file: Path | None = field(default=None, metadata={"help": "a PEM bundle of the CA that signed the cluster's certificate"})
    client_cert: Path | None = None
    client_key: Path | None = None
    ssl_fingerprint: str | None = field(
        default=None, metadata={"help": "the SHA-256 fingerprint of the server certificate (64 hex digits, ':' optional)"}
    )
    verify_certs: bool = True
    # Bulk requests.
    bulk_max_docs: int | None = field(
        default=None, metadata={"help": "documents per bulk request (default: 5,000, or max_held_events if that is less)"}
    )
    bulk_max_bytes: ByteSize = ByteSize(5_000_000)
    compression: Literal["none", "gzip"] = "none"
    max_in_flight: int = field(default=2, metadata={"help": "bulk requests sent in parallel (1-16)"})
    request_timeout: Duration = Duration(60)
    # Retries: exponential backoff with full jitter, capped; the events held are bounded.
    retry_initial: Duration = Duration(0.5)
    retry_max: Duration = Duration(30)
    max_item_retries: int = field(
        default=20, metadata={"help": "item-level 5xx retries before the item goes to the dead letter "
                                   "(429s retry forever; in `shipper run`, 502/503/504 too); retries of "
                                   "whole requests (a 5xx or 429 for all, no answer) do not count"}
    )
    max_held_events: int = field(
        default=6_000, metadata={"help": "events in flight or waiting for a retry; when full, reading pauses"}
    )
    give_up_after: Duration | None = field(
        default=None, metadata={"help": "stop with an error after Elasticsearch has been unreachable this long (default: never)"}
    )
    # Dead letter: always a table in the state directory; also this data stream when true.
    deadletter_index: bool = False
    # ILM: delete data this long after rollover (installed by `shipper setup`).
    retention: Duration = Duration(30 * 86400)
    kibana_url: str | None = field(
        default=None, metadata={"help": "Kibana's URL, e.g. https://kibana.example:5601: `shipper setup` imports the saved views there"}
    )

    def __post_init__(self) -> None:
        if not _NAMESPACE.match(self.namespace):
            raise ValueError(
                f"namespace {self.namespace!r} is not valid: use 1-100 lowercase letters, digits and _ (no '-')"
            )
        if not self.hosts and not self.cloud_id:
            raise ValueError("hosts is empty: give at least one URL, e.g. hosts: [https://es1.example:9200], "
                             "or set cloud_id (or leave hosts out for http://localhost:9200)")
        for host in self.hosts:
            check_url(host, "host")
        if self.kibana_url:  # (empty: the loader says so, naming the key)
            check_url(self.kibana_url, "kibana_url", "https://kibana.example:5601")
        self._check_auth()
        if self.ssl_fingerprint is not None and not _FINGERPRINT.match(self.ssl_fingerprint):
            raise ValueError("ssl_fingerprint must be a SHA-256 fingerprint: 64 hex digits, optionally ':'-separated")
        if self.client_key is not None and self.client_cert is None:
            raise ValueError("client_key needs client_cert")
        if not 1 <= self.max_in_flight <= 16:
            raise ValueError("max_in_flight must be between 1 and 16")
        if (self.bulk_max_docs is not None and self.bulk_max_docs < 1) or self.bulk_max_bytes < 1024:
            raise ValueError("bulk_max_docs must be at least 1 and bulk_max_bytes at least 1KiB")
        if self.max_held_events < self.bulk_docs:
            raise ValueError(f"max_held_events must be at least bulk_max_docs ({self.max_held_events:,} is less than "
                             f"{self.bulk_docs:,}): raise max_held_events or lower bulk_max_docs")
        if self.retry_initial <= 0 or self.retry_max < self.retry_initial:
            raise ValueError("retry_initial must be positive and retry_max at least retry_initial")
        if self.max_item_retries < 0:
            raise ValueError(f"max_item_retries must be 0 or more, not {self.max_item_retries}: it is how many times "
                             "a document whose item failed with a 5xx is sent again (0: to the dead letter at once)")
        if self.retention < 86400:
            raise ValueError("retention must be at least 1d")

    @property
    def bulk_docs(self) -> int:
        """Documents per bulk request. By default 5,000 (about 3 MB of syslog documents): at 2,000,
        the requests' own cost (the client's Python, the HTTP exchange) took 8-10% more CPU in a
        replay; fewer if ``max_held_events`` is less, so that setting only that stays valid."""
        return self.bulk_max_docs if self.bulk_max_docs is not None else min(BULK_DOCS, self.max_held_events)

    def _check_auth(self) -> None:
        """One way to authenticate, from one source each: checked on the keys set (the secrets
        themselves are read when connecting), so that `shipper validate` says it too."""
        ways = {"api_key": (self.api_key_file, self.api_key_env), "password": (self.password_file, self.password_env),
                "bearer_token": (self.bearer_token_file, self.bearer_token_env)}
        for name, (file, env) in ways.items():
            if file is not None and env is not None:
                raise ValueError(f"{name}_file and {name}_env are both set: keep one source for it")
        used = [name for name, sources in ways.items() if any(v is not None for v in sources)]
        if len(used) > 1:
            raise ValueError(f"several ways to authenticate are configured ({', '.join(used)}): keep one: "
                             "api_key_* (preferred), username with password_*, or bearer_token_*")
        if (self.username is None) != ("password" not in used):
            raise ValueError("username and password_file/password_env go together: set both, or use api_key_file instead")

    @property
    def credentials_configured(self) -> bool:
        return any(
            v is not None
            for v in (self.api_key_file, self.api_key_env, self.password_file, self.password_env,
                      self.bearer_token_file, self.bearer_token_env)
        )
