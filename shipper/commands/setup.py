"""`shipper setup`: install or upgrade the templates, ILM policy and ingest pipelines in Elasticsearch."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from shipper.env import Env
from shipper.errors import ExitCode
from shipper.setup.kibana import add_kibana_arguments, kibana_target
from shipper.setup.options import add_es_arguments

if TYPE_CHECKING:
    from shipper.setup.install import Status

HELP = "install or upgrade shipper's index templates, ILM policy and ingest pipelines in Elasticsearch"
EXAMPLES = """\
examples:
  shipper setup --config /etc/shipper/shipper.yml      install what is missing, upgrade what is older
  shipper setup --es-url https://localhost:9200 --config admin.yml
  shipper setup --config admin.yml --dry-run            only say what would change
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
    from shipper.setup.assets import load_assets
    from shipper.setup.install import apply, inspect, install_error, plan
    from shipper.setup.options import Purpose, es_settings
    from shipper.sinks.es_client import connect

    es, _ = es_settings(args, Purpose("setup", "set up"))
    kibana = kibana_target(args, es)
    conn = connect(es, env)
    try:
        env.stdout.write(f"Elasticsearch {conn.version} at {conn.where}\n")
        steps = plan(inspect(conn.client, load_assets(float(es.retention))), force=args.force)
        if args.dry_run:
            _report_plan(steps, env)
            if kibana:
                env.stdout.write(f"  would import the saved views into Kibana at {kibana}\n")
            _raise_if_not_read(steps)
            return ExitCode.OK
        done, refused = apply(conn.client, steps)
    finally:
        conn.client.close()
    _report(done, env)
    if refused is not None:  # after the lines above: what was installed before it stays installed
        failed = next(status for verb, status in done if verb == "failed")
        raise install_error(refused, failed, conn.where) from None
    code: int = ExitCode.OK
    if kibana:
        from shipper.setup.kibana import run_kibana_setup

        args.kibana = kibana
        code = run_kibana_setup(args, es, env)
    _raise_if_not_read(steps)
    return code


def _report_plan(steps: list[tuple[str, Status]], env: Env) -> None:
    """--dry-run: a line per asset, what setup would do with it."""
    from shipper.setup.install import WRITES, held_reason

    for verb, s in steps:
        if verb == "held":
            env.stdout.write(f"  {'would hold back':<15} {s.describe()}: {held_reason(s)}\n")
        else:
            mark = "would replace" if verb == "replaced" else "would install" if verb in WRITES else s.state
            env.stdout.write(f"  {mark:<15} {s.describe()}\n")


def _report(done: list[tuple[str, Status]], env: Env) -> None:
    """A line per asset, then the summary: how many changed, were left as they were, could not be
    read, were held back for what could not be read, failed or were not tried after a failure."""
    from shipper.setup.install import WRITES, result_line

    for verb, status in done:
        env.stdout.write(f"  {result_line(verb, status)}\n")
    changed = sum(1 for verb, _ in done if verb in WRITES)
    unread = sum(1 for _, status in done if status.state == "unreadable")
    counts = {what: sum(1 for verb, _ in done if verb == key)
              for key, what in (("held", "held back"), ("failed", "failed"), ("not tried", "not tried"))}
    left = len(done) - changed - unread - sum(counts.values())
    parts = [f"{changed} changed", f"{left} left as they were"]
    parts += [f"{unread} could not be read"] if unread else []
    parts += [f"{n} {what}" for what, n in counts.items() if n]
    env.stdout.write(f"setup: {', '.join(parts)}\n")


def _raise_if_not_read(steps: list[tuple[str, Status]]) -> None:
    """Setup failed where it could not read an asset: it neither compared nor installed it, nor what
    needs it (exit 6)."""
    from shipper.setup.install import not_read_error

    error = not_read_error(steps)
    if error is not None:
        raise error
