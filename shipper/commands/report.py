"""`shipper report`: the incidents of the local store as one self-contained HTML page."""

from __future__ import annotations

import argparse
import gc
from pathlib import Path

from shipper.commands.common import add_store_arguments, store_path
from shipper.env import Env
from shipper.timeargs import add_window_arguments
from shipper.errors import ExitCode

HELP = "write an HTML investigation report of the incidents in the local store (one file, no network needed)"
EXAMPLES = """\
examples:
  shipper report -o report.html                         every incident in the default store
  shipper report --store out/demo.db -o out/report.html
  shipper report --since 2017-08-30 --until 2017-08-31 -o aug30.html

The page holds the same incidents as `shipper causes --format json`, with the lines around each,
a timeline per host and unit, and filters; it opens in any browser, also from a mail attachment.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", type=Path, required=True, metavar="FILE", help="the HTML file to write")
    add_store_arguments(p)
    add_window_arguments(p)


def run(args: argparse.Namespace, env: Env) -> int:
    from shipper.report.html import collect, render, write
    from shipper.sinks.local import LocalStore
    from shipper.timeargs import window_from_args

    since, until = window_from_args(args, env)
    store = LocalStore(store_path(args, env), create=False)
    gc.disable()  # millions of small objects, none of them garbage: collecting would double the time
    try:
        data = collect(store, since=since, until=until, now=env.clock())
        page = render(data)
    finally:
        gc.enable()
        store.close()
    write(args.output, page)
    n, counts = len(data["report"]["incidents"]), data["report"]["counts"]
    env.stderr.write(f"report: {n} incident{'' if n == 1 else 's'} from {counts.get('total', 0)} events "
                     f"({counts.get('unparsed', 0)} unparsed)\n")
    env.stdout.write(f"{args.output}\n")
    return ExitCode.OK
