"""`shipper causes`: the incidents in the local store, newest first, with cause, hint and remedy."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from shipper.commands.common import add_store_arguments, store_path
from shipper.env import Env
from shipper.timeargs import add_window_arguments
from shipper.errors import ExitCode

if TYPE_CHECKING:
    from shipper.sinks.local import LocalStore

HELP = "show what failed, why, and what to do: incidents from the local store, newest first"
EXAMPLES = """\
examples:
  shipper causes                                    every incident in the default store
  shipper causes --since 2h                         the last two hours
  shipper causes --since 2017-08-30 --until 2017-08-31
  shipper causes --store out/demo.db --format json  for scripts
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_store_arguments(p)
    add_window_arguments(p)
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")


def run(args: argparse.Namespace, env: Env) -> int:
    from shipper.report.causes import linked_incidents, render_text, to_json
    from shipper.report.lines import quote_last_lines
    from shipper.sinks.local import LocalStore
    from shipper.timeargs import window_from_args

    since, until = window_from_args(args, env)
    store = LocalStore(store_path(args, env), read_only=True)
    try:
        window = incident_window(args, store, env)
        incidents = linked_incidents(store, since=since, until=until, window=window)
        quote_last_lines(store, incidents, window)
        counts = store.counts(since=since, until=until)
    finally:
        store.close()
    if args.format == "json":
        env.stdout.write(json.dumps(to_json(incidents, counts), indent=2, ensure_ascii=False) + "\n")
    else:
        env.stdout.write(render_text(incidents, counts, windowed=since is not None or until is not None))
    return ExitCode.OK


def incident_window(args: argparse.Namespace, store: LocalStore, env: Env) -> float:
    """``recognise.incident_window`` of ``--config``; else the window the runs that wrote the store
    linked with (the last run's, said on stderr if runs used different ones); else the default."""
    if args.config is not None:
        from shipper.config import load_config

        return float(load_config(args.config).recognise.incident_window)
    windows = store.incident_windows()
    if not windows:
        from shipper.enrich.relink import DEFAULT_WINDOW

        return DEFAULT_WINDOW
    if len(windows) > 1:
        from shipper.enrich.hints import window_text

        used = ", ".join(window_text(w) for w in windows)
        env.stderr.write(f"{args.command}: the runs that wrote {store.path} linked incidents with different windows "
                         f"({used}); linking with the last run's, {window_text(windows[-1])} (--config with "
                         "recognise.incident_window chooses another)\n")
    return windows[-1]
