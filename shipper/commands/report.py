"""`shipper report`: the incidents of the local store as one self-contained HTML page."""

from __future__ import annotations

import argparse
import gc
import os
from pathlib import Path

from shipper.commands.common import add_store_arguments, store_path
from shipper.env import Env
from shipper.timeargs import add_window_arguments
from shipper.errors import ExitCode, UsageError

HELP = "write an HTML investigation report of the incidents in the local store (one file, no network needed)"
EXAMPLES = """\
examples:
  shipper report -o report.html                         every incident in the default store
  shipper report --store out/demo.db -o out/report.html
  shipper report --since 2017-08-30 --until 2017-08-31 -o aug30.html
  shipper report -o - | gzip > report.html.gz           `-` is stdout

The page holds the same incidents as `shipper causes --format json`, with the lines around each,
a timeline per host and unit, and filters; it opens in any browser, also from a mail attachment.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", type=Path, required=True, metavar="FILE",
                   help="the HTML file to write (replaced whole; through a link, the file it names), "
                        "or a FIFO or device to write to, or - for stdout")
    add_store_arguments(p)
    add_window_arguments(p)


def run(args: argparse.Namespace, env: Env) -> int:
    from shipper.commands.causes import incident_window
    from shipper.report.html import check_output, collect, render, write
    from shipper.sinks.local import LocalStore
    from shipper.timeargs import window_from_args

    since, until = window_from_args(args, env)
    path = store_path(args, env)
    to_stdout = _is_stdout(args.output, env)
    if not to_stdout:
        _refuse_store_as_output(args.output, path)
        check_output(args.output)
    store = LocalStore(path, read_only=True)
    gc.disable()  # millions of small objects, none of them garbage: collecting would double the time
    try:
        data = collect(store, since=since, until=until, now=env.clock(), window=incident_window(args, store, env))
        page = render(data)
    finally:
        gc.enable()
        store.close()
    if to_stdout:
        env.stdout.flush()
        env.stdout_bytes.write(page.encode("utf-8"))
        env.stdout_bytes.flush()
    else:
        write(args.output, page)
    n, counts = len(data["report"]["incidents"]), data["report"]["counts"]
    env.stderr.write(f"report: {n} incident{'' if n == 1 else 's'} from {counts.get('total', 0)} events "
                     f"({counts.get('unparsed', 0)} unparsed)\n")
    if not to_stdout:
        env.stdout.write(f"{args.output}\n")
    return ExitCode.OK


def _is_stdout(output: Path, env: Env) -> bool:
    """Whether ``-o`` is stdout: ``-``, or what stdout already is (``/dev/stdout``, the file stdout
    was redirected to). The page goes to stdout itself then, and no path is printed after it."""
    if str(output) == "-":
        return True
    try:
        return os.path.samestat(os.stat(output), os.fstat(env.stdout.fileno()))
    except (OSError, ValueError):  # no such file, or a stdout with no descriptor (closed, in memory)
        return False


def _refuse_store_as_output(output: Path, store: Path) -> None:
    """Refuses an -o that names the store, or a file SQLite keeps beside it (-wal, -shm, -journal),
    also through a link: the page written there would destroy the store."""
    from shipper.sinks.base import sqlite_files

    real = Path(os.path.realpath(store))
    for path in [*sqlite_files(store), *sqlite_files(real)]:  # SQLite names its files after the real one
        if _same_file(output, path):
            what = ("the local store" if path in (store, real)
                    else f"{path.name}, a file SQLite keeps beside the local store")
            raise UsageError(f"-o {output} names {what} {store}: the report would overwrite it",
                             hint="write the report to another file, such as -o report.html")


def _same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` name one file: the same path once links are resolved (whether it
    exists or not), or the same existing file under two names (a hard link)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist
        return False
