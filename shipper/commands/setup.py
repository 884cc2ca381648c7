"""`shipper setup`: install or upgrade the templates, ILM policy and ingest pipelines in Elasticsearch."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from shipper.env import Env
from shipper.errors import ExitCode
from shipper.setup.kibana import add_kibana_arguments
from shipper.setup.options import add_es_arguments

if TYPE_CHECKING:
    from shipper.setup.install import Status

HELP = "install or upgrade shipper's index templates, ILM policy and ingest pipelines in Elasticsearch"
EXAMPLES = """\
examples:
  shipper setup --config /etc/shipper/shipper.yml      install what is missing, upgrade what is older
  shipper setup --es-url https://localhost:9200 --config admin.yml
  shipper setup --dry-run                               only say what would change
  shipper setup --config shipper.yml --kibana https://kibana.example:5601 --space ops

Run it with credentials that may manage templates, ILM and pipelines (not the shipper's own
API key, which only writes documents: see deploy/elasticsearch-role.json). Running it again
changes nothing; it never deletes data. New mappings apply at each data stream's next rollover.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_es_arguments(p)
    p.add_argument("--dry-run", action="store_true", help="compare only; change nothing")
    p.add_argument("--force", action="store_true", help="also replace objects of the same name not installed by shipper")
    add_kibana_arguments(p)


def run(args: argparse.Namespace, env: Env) -> int:
    from elasticsearch import ApiError

    from shipper.setup.assets import load_assets
    from shipper.setup.install import NEEDS_INSTALL, PRIVILEGES_HINT, apply, inspect
    from shipper.setup.options import es_settings
    from shipper.sinks.es_client import connect, unavailable

    es, _ = es_settings(args)
    kibana = args.kibana or es.kibana_url
    conn = connect(es, env)
    try:
        env.stdout.write(f"Elasticsearch {conn.version} at {conn.where}\n")
        statuses = inspect(conn.client, load_assets(float(es.retention)))
        if args.dry_run:
            for s in statuses:
                mark = "would install" if s.state in NEEDS_INSTALL else s.state
                env.stdout.write(f"  {mark:<14} {s.describe()}\n")
            if kibana:
                env.stdout.write(f"  would import the saved views into Kibana at {kibana}\n")
            _raise_if_not_read(statuses)
            return ExitCode.OK
        try:
            done = apply(conn.client, statuses, force=args.force)
        except ApiError as exc:
            error = unavailable(exc, conn.where, doing="install its templates, ILM policy and pipelines")
            if exc.meta.status == 403:  # (the general hint names the shipper's own role, which may not do this)
                error.hint = PRIVILEGES_HINT
            raise error from None
    finally:
        conn.client.close()
    _report(done, env)
    code: int = ExitCode.OK
    if kibana:
        from shipper.setup.kibana import run_kibana_setup

        args.kibana = kibana
        code = run_kibana_setup(args, es, env)
    _raise_if_not_read(statuses)
    return code


def _report(done: list[tuple[str, Status]], env: Env) -> None:
    """A line per asset, then the summary: how many changed, were left as they were, could not be read."""
    from shipper.setup.install import result_line

    for verb, status in done:
        env.stdout.write(f"  {result_line(verb, status)}\n")
    changed = sum(1 for verb, _ in done if verb in ("installed", "updated", "replaced"))
    unread = sum(1 for _, status in done if status.state == "unreadable")
    env.stdout.write(f"setup: {changed} changed, {len(done) - changed - unread} left as they were"
                     + (f", {unread} could not be read\n" if unread else "\n"))


def _raise_if_not_read(statuses: list[Status]) -> None:
    """Setup failed where it could not read an asset: it neither compared nor installed it (exit 6)."""
    from shipper.setup.install import not_read_error

    error = not_read_error(statuses)
    if error is not None:
        raise error
