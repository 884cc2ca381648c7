"""Whether credentials may write where shipper writes, as Elasticsearch itself says: the has-privileges
API (``POST /_security/user/_has_privileges``), for `shipper check` and for the probe of a new output
at a reload (`ElasticsearchSink.check_writable`). ``GET /`` alone lets an API key through that
authenticates but may not write: after the switch, every bulk request would fail with 403.

Writing needs, on the data streams of the output's namespace (``logs-shipper.*-<namespace>``),
``create_doc`` (each bulk item is an ``op_type: create``) and ``auto_configure`` (a data stream is
created by its first document, from the index template `shipper setup` installed): what
deploy/elasticsearch-role.json grants.

A cluster without security has no privileges to check. Elasticsearch 8 and 9 then register none of
the security endpoints, and answer this one as any unknown path: 400, ``{"error": "no handler found
for uri [/_security/user/_has_privileges] and method [POST]"}`` (RestController.handleBadRequest;
elastic/elasticsearch#53761). That answer counts as "allowed".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

from shipper.errors import UnavailableError
from shipper.sinks.bulk import data_stream
from shipper.sinks.es_errors import connection_reason, error_reason

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

    from shipper.sinks.es_client import Connection

WRITE_PRIVILEGES = ("create_doc", "auto_configure")
ROLE_HINT = "grant the role in deploy/elasticsearch-role.json"
_SECURITY_OFF = "no handler found for uri"


@dataclass(frozen=True)
class Privileges:
    """Elasticsearch's answer: its name for the credentials' ``user``, and the privileges asked
    for that they lack (``create_doc on logs-shipper.*-default``, a cluster privilege by its name).
    ``user`` None: security is off, anyone may do anything."""

    user: str | None
    missing: tuple[str, ...] = ()


def data_streams(namespace: str) -> str:
    """The data streams an output of ``namespace`` writes to, as one index pattern."""
    return data_stream("shipper.*", namespace)


def ask(client: "Elasticsearch", namespace: str, cluster: Sequence[str] = (),
        index: Sequence[str] = WRITE_PRIVILEGES) -> Privileges:
    """Whether the client's credentials hold the ``index`` privileges (by default
    `WRITE_PRIVILEGES`) on `data_streams`, and the ``cluster`` privileges. The client's errors
    when Elasticsearch answers otherwise."""
    from elasticsearch import ApiError

    names = data_streams(namespace)
    try:
        body: dict[str, Any] = client.security.has_privileges(
            cluster=list(cluster) or None, index=[{"names": [names], "privileges": list(index)}]).body
    except ApiError as exc:
        if exc.meta.status == 400 and error_reason(exc.body).startswith(_SECURITY_OFF):
            return Privileges(None)
        raise
    missing = [p for p, ok in body.get("cluster", {}).items() if not ok]
    missing += [f"{p} on {names}" for p, ok in body.get("index", {}).get(names, {}).items() if not ok]
    return Privileges(str(body.get("username", "?")), tuple(missing))


def check_writable(conn: "Connection", namespace: str, warn: Callable[[str], None]) -> None:
    """An `UnavailableError` naming the privileges the credentials of ``conn`` lack to write to the
    data streams of ``namespace``. When Elasticsearch cannot tell (a proxy that refuses its security
    API, a failure), ``warn`` says so, and nothing is raised: the bulk requests will tell."""
    from elastic_transport import TransportError
    from elasticsearch import ApiError

    try:
        held = ask(conn.client, namespace)
    except (ApiError, TransportError) as exc:
        reason = f"{exc.meta.status}: {error_reason(exc.body)}" if isinstance(exc, ApiError) else connection_reason(exc)
        warn(f"warning: could not ask Elasticsearch at {conn.where} whether the credentials may write to "
             f"{data_streams(namespace)} ({reason}); `shipper check` tells more")
        return
    if held.missing:
        raise UnavailableError(f"the credentials for Elasticsearch at {conn.where} (user {held.user!r}) may not write "
                               f"to shipper's data streams: they lack {', '.join(held.missing)}",
                               hint=f"{ROLE_HINT}; `shipper check` lists what is missing")
