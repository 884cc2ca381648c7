"""`shipper replay`: read archived logs, parse, recognise, and write them out."""

from __future__ import annotations

import argparse
import shlex
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from shipper.config import load_config
from shipper.config.model import YEARS, Config
from shipper.env import Env
from shipper.errors import ExitCode, UsageError
from shipper.event import TAG_TIMESTAMP_ZONE_IGNORED
from shipper.parse.base import ParseContext
from shipper.pipeline import Pipeline, Summary, Window
from shipper.sources.base import INPUT_FORMATS
from shipper.timeargs import check_zone_option, local_zone_name, window_from_args

if TYPE_CHECKING:
    from shipper.sinks.base import Sink
    from shipper.sources.open import InputGroup

HELP = ("replay archived logs into an output: files, rotated sets, compressed files (.gz .bz2 .xz .zst; not tar), "
        "journal files, dumps")
EXAMPLES = """\
examples:
  shipper replay /var/log/maillog*                       rotated set, oldest first, into the local store
  shipper replay messages-20170903.gz maillog.2.bz2      merged by time: causes come before failures
  shipper replay /var/log/journal/                       journal files (.journal, .journal~)
  journalctl -o export -u sendmail | shipper replay -    a dump on standard input
  shipper replay --timezone Europe/Berlin --year 2017 old-syslog.txt
  shipper replay --output ndjson -o out.ndjson maillog   documents as NDJSON
  shipper replay --output es --config shipper.yml /var/log/messages
"""

# The most worker processes a replay starts (a larger --workers is refused; one per CPU stops
# there). The main process alone reads the inputs and merges and writes the output, so beyond some
# dozens the workers would wait on it rather than add speed; each costs the main process two pipe
# descriptors, up to 2 MiB of pipe buffers and a process's memory, and starting N of them costs N²
# (each forked worker closes its siblings' pipes): --workers 100000 hung a machine, and 1000 ran out
# of descriptors under `ulimit -n 1024`. 64 is more CPUs than most machines that replay have, and
# keeps to 128 descriptors.
MAX_WORKERS = 64


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="files (plain or compressed: .gz .bz2 .xz .zst; not tar), directories, journal files, or - "
                        "for stdin")
    p.add_argument("--output", choices=("local", "ndjson", "es"), help="where documents go (default: the local store)")
    p.add_argument("--store", type=Path, help="the local store (default: ~/.local/share/shipper/events.db)")
    p.add_argument("-o", "--out", type=Path,
                   help="with --output ndjson: write to this file instead of stdout (- is stdout); it replaces the "
                        "old file only once the replay is complete")
    p.add_argument("--es-url", help="with --output es: the Elasticsearch URL (credentials come from the config)")
    p.add_argument("--config", type=Path, help="a shipper.yml (parse, recognise and output settings)")
    p.add_argument("--format", choices=INPUT_FORMATS, default="auto", help="force the input format (default: detect)")
    p.add_argument("--since", help="only events at or after this time (2017-08-30T14:00Z, or an age: 2h, 7d)")
    p.add_argument("--until", help="only events before this time")
    p.add_argument("--timezone", help="zone of timestamps that carry none: Europe/Berlin, +02:00, ... (default: the machine's)")
    p.add_argument("--year", type=int,
                   help="year of the FIRST line's RFC 3164 timestamp (they carry none); later lines roll over to the "
                        "next year at New Year (Dec -> Jan). Default: the 12 months up to each file's modification "
                        "time (stdin: now)")
    p.add_argument("--workers", type=int, metavar="N",
                   help=f"worker processes for parsing (0: none, at most {MAX_WORKERS}; default: one per CPU for a "
                        "large syslog or journal input)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bar and no summary (warnings of read errors and of documents refused by "
                        "Elasticsearch are still given)")


def run(args: argparse.Namespace, env: Env) -> int:
    from shipper.commands.replay_notes import interrupted_note, relink_note, year_note, zone_note
    from shipper.enrich.chain import default_enrichers
    from shipper.enrich.incidents import Incidents
    from shipper.parse.dispatch import make_parser
    from shipper.sinks.factory import make_sinks
    from shipper.sources.open import open_inputs

    cfg = load_config(args.config)
    ctx = _context(args, cfg, env)
    window = Window(*window_from_args(args, env, ctx.timezone))
    # Without a config file, replay keeps the Elasticsearch dead letter in the user's data
    # directory (the daemon's /var/lib/shipper is not for a user replaying on a laptop).
    state_dir = cfg.state_dir if args.config else env.data_dir
    if args.output == "es":  # (told no cluster: an error, not a guess at localhost)
        from shipper.setup.options import Purpose, named_cluster

        named_cluster(args, cfg.output.elasticsearch, Purpose("replay --output es", "send the events to", "the shipper's"))
    sinks = make_sinks(
        cfg, env, state_dir=state_dir, output=args.output, store=args.store, out=args.out, es_url=args.es_url
    )
    if args.out is not None and str(args.out) == "-":  # as for `report -o -` (the sink took it as NDJSON's file)
        from shipper.sinks.ndjson import NdjsonSink

        sinks = [NdjsonSink(stream=env.stdout_bytes)]
    _check_store(args, sinks)
    stdin = env.stdin if "-" in args.paths else None
    own = [path for sink in sinks for path in sink.files()]  # (the sinks open their files later)
    try:
        groups = open_inputs(list(args.paths), fmt=args.format, max_line_bytes=ctx.max_line_bytes, stdin=stdin,
                             own=own, note=None if args.quiet else lambda line: env.stderr.write(line + "\n"))
        from shipper.progress import progress_bar

        total = sum(s.total() or 0 for g in groups for s in g.sources)
        workers = _workers(args, groups, env)
        with progress_bar(total, env, enabled=not args.quiet) as bar:
            if workers:
                from shipper.parallel.replay import ParallelReplay

                from shipper.enrich.chain import linker

                span = linker(cfg.recognise)  # workers recognise; linking stays here
                summary = ParallelReplay(groups, ctx, span, sinks, workers, window, bar).run()
            else:
                enrichers = default_enrichers(cfg.recognise)
                linking = enrichers[-1]
                assert isinstance(linking, Incidents)  # (the last of them)
                span = linking
                summary = Pipeline(groups, ctx, make_parser, enrichers, sinks, window, bar).run()
    except KeyboardInterrupt:
        env.stderr.write(interrupted_note(sinks) + "\n")
        raise
    if not args.quiet:
        env.stderr.write(format_summary(summary, len(groups)) + "\n")
        for group in groups:
            if group.year_guess is not None and ctx.year is None:
                env.stderr.write(year_note(group.year_guess, ctx.timezone) + "\n")
        zone_ignored = summary.counters[TAG_TIMESTAMP_ZONE_IGNORED]
        if zone_ignored:
            env.stderr.write(zone_note(zone_ignored, ctx.timezone, _zone_whence(args, cfg)) + "\n")
    if summary.counters["read_errors"]:  # also with --quiet: something was not read
        env.stderr.write(read_errors_warning(summary.counters["read_errors"]) + "\n")
    note = relink_note(span, _es_options(args))
    if note and summary.sinks.get("elasticsearch", Counter())["indexed"] and not args.quiet:
        env.stderr.write(note + "\n")
    refused = summary.sinks.get("elasticsearch", Counter())["dead_lettered"]
    if refused:  # also with --quiet: something is not in Elasticsearch
        env.stderr.write(dead_letter_warning(refused, _dead_letter_options(args, state_dir)) + "\n")
    return ExitCode.OK


def _check_store(args: argparse.Namespace, sinks: list[Sink]) -> None:
    """--store names the local store: with another output it would be ignored, so it is refused
    (as -o is with the local store). Checked on the sinks made, before any is opened, so that an
    output chosen by the config counts too."""
    if args.store is not None and [s.name for s in sinks] != ["local"]:
        raise UsageError(f"--store goes with the local store, not the {sinks[0].name} output",
                         hint="leave --store out, or add --output local (an NDJSON file is -o FILE)")


def _workers(args: argparse.Namespace, groups: list[InputGroup], env: Env) -> int:
    """Worker processes: as asked, else one per CPU when the input is worth it (0: none). Inputs
    that cannot be split (dumps, Elasticsearch logs) are read by one process."""
    from shipper.parallel.replay import eligible, worth_it

    if args.workers is not None and args.workers < 0:
        raise UsageError(f"--workers {args.workers} is not a number of processes", hint="give 0 (none) or more")
    if args.workers is not None and args.workers > MAX_WORKERS:
        raise UsageError(f"--workers {args.workers} is more than a replay can use",
                         hint=f"give at most {MAX_WORKERS}, or leave it out for one per CPU")
    if not eligible(groups):
        return 0
    if args.workers is not None:
        return int(args.workers)
    # One worker on one CPU too: the C lanes run in workers only, and with the main process beside
    # it a replay takes half the time of one process there (bench/README.md).
    return min(env.cpu_count, MAX_WORKERS) if worth_it(groups) else 0


def _context(args: argparse.Namespace, cfg: Config, env: Env) -> ParseContext:
    check_zone_option(args.timezone)  # (the configuration's parse.timezone is checked when loaded, TZ by local_zone_name)
    tz = args.timezone or cfg.parse.timezone or local_zone_name(env.environ)
    if args.year is not None and args.year not in YEARS:  # (the config's parse.year is checked when loaded)
        raise UsageError(f"--year {args.year} is out of range",
                         hint=f"give a year from {YEARS.start} to {YEARS.stop - 1}, such as 2017")
    year = args.year if args.year is not None else cfg.parse.year
    return ParseContext(timezone=tz, year=year, max_line_bytes=int(cfg.parse.max_line_bytes))


def _zone_whence(args: argparse.Namespace, cfg: Config) -> str:
    """Where the replay's zone came from (as `_context` chose it)."""
    if args.timezone:
        return "--timezone"
    if cfg.parse.timezone:
        return f"parse.timezone of {args.config}"
    return "the machine's zone"


def read_errors_warning(count: int) -> str:
    what = "1 read error" if count == 1 else f"{count:,} read errors"
    return (f"replay: warning: {what}: part of an input could not be read (a damaged or truncated archive or "
            "journal file, a journal export dump cut short, a file cut while it was read). Everything else was written; each read error is an "
            "event tagged read_error that says where, and what to check.")


def dead_letter_warning(count: int, options: str) -> str:
    what = "1 document" if count == 1 else f"{count:,} documents"
    return (f"replay: warning: {what} refused by Elasticsearch went to the dead letter, not into Elasticsearch. "
            f"`shipper deadletter list {options}` shows which and why; after a fix, "
            f"`shipper deadletter retry {options}` sends them again.")


def _dead_letter_options(args: argparse.Namespace, state_dir: Path) -> str:
    """The options of `shipper deadletter` that find this replay's dead letter and Elasticsearch."""
    options = ["--config", str(args.config)] if args.config else ["--state-dir", str(state_dir)]
    return shlex.join(options + (["--es-url", args.es_url] if args.es_url else []))


def _es_options(args: argparse.Namespace) -> list[str]:
    """--config and --es-url as given: the Elasticsearch this replay wrote to."""
    return (["--config", str(args.config)] if args.config else []) + (["--es-url", args.es_url] if args.es_url else [])


def format_summary(summary: Summary, inputs: int) -> str:
    """One line of counts. A read error is an event tagged unparsed too: it is counted apart. A
    truncated event (tagged so: its line was cut) is one of the parsed or unparsed ones."""
    c = summary.counters
    errors, truncated = c["read_errors"], c["truncated"]
    details = [f"{c['documents'] - c['unparsed']:,} parsed", f"{max(c['unparsed'] - errors, 0):,} unparsed"]
    if errors:
        details.append(f"{errors:,} read error{'s' if errors != 1 else ''}")
    events = f"{c['documents']:,} events ({', '.join(details)})"
    if truncated:
        events += f", {truncated:,} of them truncated (cut at parse.max_line_bytes or where an input broke)"
    parts = [f"{c['read']:,} entries read from {inputs} input{'s' if inputs != 1 else ''}", events]
    for name, counters in summary.sinks.items():
        detail = ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in sorted(counters.items()))
        parts.append(f"{name}: {detail or 'nothing written'}")
    parts.append(f"{summary.seconds:.2f} s, {summary.rate:,.0f} entries/s")
    return "replay: " + "; ".join(parts)
