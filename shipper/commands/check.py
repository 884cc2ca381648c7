"""`shipper check`: can shipper write to Elasticsearch, and is the cluster set up for it?"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from shipper.env import Env
from shipper.errors import ExitCode
from shipper.setup.options import add_es_arguments
from shipper.sinks.es_privileges import ROLE_HINT, ask, data_streams
from shipper.sinks.es_privileges import WRITE_PRIVILEGES as INDEX_PRIVILEGES  # (tests/unit/test_es_assets.py reads it here)

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

    from shipper.config.elasticsearch import ElasticsearchOutput

HELP = "check the connection, version, credentials, privileges and installed assets of Elasticsearch"
EXAMPLES = """\
examples:
  shipper check --config /etc/shipper/shipper.yml
  shipper check --es-url https://es1.example:9200 --config shipper.yml

exit status: 0 all good; 6 unreachable, credentials refused or privileges missing;
             5 templates, ILM policy or pipelines missing or outdated (run `shipper setup`), or not
               installed by shipper (`shipper setup --force` replaces them)
"""

CLUSTER_PRIVILEGES = ("monitor",)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_es_arguments(p)


def run(args: argparse.Namespace, env: Env) -> int:
    from shipper.setup.assets import load_assets
    from shipper.setup.install import inspect, remedy
    from shipper.setup.options import Purpose, es_settings
    from shipper.sinks.es_client import CLIENT_MAJOR, connect

    es, _ = es_settings(args, Purpose("check", "check", "the shipper's"))
    out = _Report(env)
    conn = connect(es, env)  # unreachable, refused credentials: one clear error (exit 6)
    try:
        out.line("ok", f"connection: Elasticsearch {conn.version} (cluster {conn.cluster_name!r}) at {conn.where}, "
                       f"REST API compatible-with={min(conn.major, CLIENT_MAJOR)}")
        _credentials(es, out)
        worst = _privileges(conn.client, es, out)
        for status in inspect(conn.client, load_assets(float(es.retention))):
            if status.state in ("current", "newer"):
                out.line("ok", status.describe())
            elif status.state == "unreadable":
                out.line("warn", status.describe() + "; check with the setup credentials")
            else:
                out.line("FAIL", remedy(status))
                worst = worst if worst != ExitCode.OK else ExitCode.OUTPUT
    finally:
        conn.client.close()
    env.stdout.write("check: all good\n" if worst == ExitCode.OK else "check: problems found (see FAIL lines)\n")
    return worst


class _Report:
    def __init__(self, env: Env) -> None:
        self.env = env

    def line(self, mark: str, text: str) -> None:
        self.env.stdout.write(f"  {mark:<5} {text}\n")


def _credentials(es: "ElasticsearchOutput", out: _Report) -> None:
    from shipper.secrets import readable_by_others

    sources = [("API key", es.api_key_file, es.api_key_env), ("password", es.password_file, es.password_env),
               ("bearer token", es.bearer_token_file, es.bearer_token_env)]
    configured = [(what, path, var) for what, path, var in sources if path is not None or var is not None]
    for what, path, var in configured[:1]:
        user = f" for user {es.username!r}" if what == "password" else ""
        out.line("ok", f"credentials: {what}{user} from {path if path is not None else '$' + str(var)}")
        if path is not None and readable_by_others(path):
            out.line("warn", f"{path} can be read by other users: chmod 600 {path}")
    if not configured:
        out.line("warn", "credentials: none configured (fine only for a cluster without security)")
    if not es.verify_certs:
        out.line("warn", "TLS certificate verification is off (verify_certs: false)")


def _privileges(client: "Elasticsearch", es: "ElasticsearchOutput", out: _Report) -> ExitCode:
    from elasticsearch import ApiError

    from shipper.sinks.es_errors import error_reason

    try:
        held = ask(client, es.namespace, cluster=CLUSTER_PRIVILEGES)
    except ApiError as exc:
        out.line("warn", f"privileges: cannot be checked ({exc.meta.status}: {error_reason(exc.body)})")
        return ExitCode.OK
    if held.user is None:
        out.line("warn", "privileges: security is off on this cluster, so anyone may write (not checked)")
        return ExitCode.OK
    if held.missing:
        out.line("FAIL", f"privileges of {held.user!r}: missing {', '.join(held.missing)} ({ROLE_HINT})")
        return ExitCode.UNAVAILABLE
    out.line("ok", f"privileges of {held.user!r}: {', '.join(INDEX_PRIVILEGES)} on {data_streams(es.namespace)}; "
                   f"{', '.join(CLUSTER_PRIVILEGES)}")
    return ExitCode.OK
