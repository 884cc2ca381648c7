"""`shipper relink`: link the recognised events Elasticsearch holds again, across the runs that sent them.

Each run links failures to causes among its own events, and the data streams keep the first copy
of a document (`op_type: create`): a failure replayed apart from its cause says "no cause found"
for good. This reads the recognised events of a window (widened to whole incidents, and an hour
further for the starts that end them: `shipper.enrich.relink.linking_span`), links them as one
replay of them all would (`shipper.enrich.relink.relink`, what `causes` and `report` do with the
local store), and writes back the documents whose ``rootcause`` changed (but for a start read only
for what it tells: `linked_whole`), each only if it did not change since it was read.
"""

from __future__ import annotations

import argparse
import copy
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator

from shipper.commands.relink_write import Outcome, Writer, describe
from shipper.env import Env
from shipper.errors import ExitCode, OutputError, UnavailableError, UsageError
from shipper.setup.options import Purpose, add_es_arguments, named_cluster
from shipper.timeargs import add_window_arguments

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

    from shipper.config.elasticsearch import ElasticsearchOutput
    from shipper.config.model import Config
    from shipper.sinks.es_search import Hit, PointInTime
    from shipper.sinks.retry import Backoff

Span = tuple[str | None, str | None]  # [since, until): None where unbounded

HELP = "link failures to their causes again in what Elasticsearch holds, across the runs that sent them"
EXAMPLES = """\
examples:
  shipper relink --config operator.yml --since 2017-08-30 --until 2017-08-31
  shipper relink --config operator.yml --since 7d --dry-run     only say what would change
  shipper relink --es-url https://es1.example:9200 --config operator.yml
  shipper relink --config operator.yml --since 7d --incident-window 30m   as runs with that window linked

A failure and its cause sent by different runs (two replays, or an archive replayed after the
daemon shipped the failure) are linked as one run of both would link them. The window is widened
to whole incidents, and an hour further on each side (a unit's start up to an hour after its failure
ends that incident). Only documents whose rootcause.* changes are written, each only if nobody
changed it since it was read. It needs the index privileges read and index on logs-shipper.*-*
(the shipper's own key, create_doc, cannot change a document): use an operator's credentials.

Links are made with an incident window: --incident-window, else recognise.incident_window of
--config, else 10 minutes. Give the window the runs that sent the documents used: with another,
relink would change their links.

exit status: 0 done (or nothing to change); 5 some documents could not be written (counted, with why);
             6 unreachable, credentials refused, privileges missing, or the search failed
"""

PRIVILEGE_HINT = ("grant the index privileges read and index on logs-shipper.*-* to the credentials of the "
                  "config given (an operator's, not the shipper's API key, whose create_doc cannot change a "
                  "document); --dry-run needs read only")
MONITOR_HINT = ("relink needs the cluster privilege monitor (to read the server version) and the index privileges "
                "read and index on logs-shipper.*-* (read only for --dry-run): use an operator's credentials that hold "
                "them (the shipper's role, deploy/elasticsearch-role.json, has monitor but neither read nor index)")
_SHOWN_FAILURES = 20


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_es_arguments(p)
    add_window_arguments(p)
    p.add_argument("--incident-window", metavar="DURATION",
                   help="the recognise.incident_window the runs that sent the documents linked with (30s, 10m, "
                        "2h; default: the one --config sets, else 10m)")
    p.add_argument("--dry-run", action="store_true", help="say which documents would change; write nothing")


def run(args: argparse.Namespace, env: Env) -> int:
    from shipper.config import load_config
    from shipper.sinks.es_privileges import data_streams
    from shipper.sinks.retry import Backoff
    from shipper.timeargs import window_from_args

    since, until = window_from_args(args, env)
    cfg = load_config(args.config)
    es = named_cluster(args, cfg.output.elasticsearch, Purpose("relink", "relink"))
    window, whence = incident_window(args, cfg, env)
    target = data_streams(es.namespace)
    backoff = Backoff(float(es.retry_initial), float(es.retry_max))
    conn = _connect(es, env)
    try:
        _check_privileges(conn.client, es.namespace, ("read",) if args.dry_run else ("read", "index"))
        (start, end), hits, matched = _read(conn.client, conn.where, target, (since, until), window, backoff, env)
        changed, outcome = _relinked(hits, window, start)
        if args.dry_run:
            for hit, old in changed:
                env.stdout.write(f"  would update {describe(hit)}: {_changes(old, hit.source.get('rootcause'))}\n")
        else:
            Writer(conn.client, conn.where, backoff, outcome).write([hit for hit, _ in changed])
    finally:
        conn.close()
    if not matched:
        env.stdout.write(f"relink: nothing matched {target}: Elasticsearch holds no data stream of shipper in "
                         f"namespace {es.namespace!r} (is output.elasticsearch.namespace of --config right?)\n")
    _summary(env, (since, until), (start, end), [h.source["@timestamp"] for h in hits], outcome, args.dry_run)
    env.stdout.write(f"relink: linked with an incident window of {_window_text(window)} ({whence})\n")
    return _verdict(outcome, env)


def incident_window(args: argparse.Namespace, cfg: Config, env: Env) -> tuple[float, str]:
    """The incident window to link with, and where it came from: --incident-window, else the one
    the config file sets, else the default (said on stderr: runs with another window would have
    their links changed)."""
    from shipper.config.loader import parse_duration
    from shipper.enrich.relink import DEFAULT_WINDOW

    if args.incident_window is not None:
        try:
            window = float(parse_duration(args.incident_window))
        except ValueError as exc:
            raise UsageError(f"--incident-window: {exc}") from None
        if window <= 0:
            raise UsageError(f"--incident-window {args.incident_window!r} is no time: give the window the runs "
                             "that sent the documents linked with, such as 10m or 30m")
        return window, "--incident-window"
    key = "recognise.incident_window"
    if key in cfg.where.marks:
        return float(cfg.recognise.incident_window), f"{key} in {cfg.where.at(key)}"
    whose = f"{args.config} sets no {key}" if args.config else "no --config"
    env.stderr.write(f"relink: linking with the default incident window, {_window_text(DEFAULT_WINDOW)} (no "
                     f"--incident-window, {whose}): the links made by runs with another recognise.incident_window "
                     "would change; give theirs with --incident-window (e.g. --incident-window 30m)\n")
    return DEFAULT_WINDOW, f"the default: no --incident-window, {whose}"


def _window_text(seconds: float) -> str:
    from shipper.enrich.hints import window_text

    return window_text(seconds)


def _connect(es: ElasticsearchOutput, env: Env) -> Any:
    """The connection; a 403 reading the server version is the cluster privilege monitor missing."""
    from shipper.sinks.es_client import connect

    try:
        return connect(es, env)
    except UnavailableError as exc:
        if " (403): " in exc.message:
            raise UnavailableError(exc.message, hint=MONITOR_HINT) from None
        raise


def _check_privileges(client: Elasticsearch, namespace: str, needed: tuple[str, ...]) -> None:
    """Refuses to start without ``needed`` on the namespace's data streams: without ``read`` a
    search of a wildcard finds nothing rather than failing (Elasticsearch leaves out what may not
    be read), and without ``index`` every write would fail after the whole read."""
    from elasticsearch import ApiError

    from shipper.sinks.es_privileges import ask, data_streams

    try:
        held = ask(client, namespace, index=needed)
    except ApiError:
        return  # the check is not allowed (a proxy refuses the API): the requests themselves will say
    missing = [p.partition(" on ")[0] for p in held.missing]
    if missing:
        raise UnavailableError(f"the credentials of user {held.user!r} lack the index privilege"
                               f"{'s' if len(missing) > 1 else ''} {' and '.join(missing)} on "
                               f"{data_streams(namespace)}: relink reads the recognised events (read) and "
                               "writes the relinked ones back (index)", hint=PRIVILEGE_HINT)


@contextmanager
def _refused(where: str, doing: str, privilege: str) -> Iterator[None]:
    """Elasticsearch's refusals while ``doing`` as one error: a 403 names ``privilege``."""
    from elastic_transport import TransportError
    from elasticsearch import ApiError

    from shipper.sinks.es_client import unavailable
    from shipper.sinks.es_errors import error_reason

    try:
        yield
    except ApiError as exc:
        if exc.meta.status == 403:
            raise UnavailableError(f"Elasticsearch at {where} refused to let shipper {doing} (403: the index "
                                   f"privilege {privilege} is missing): {error_reason(exc.body)}",
                                   hint=PRIVILEGE_HINT) from None
        raise unavailable(exc, where, doing=doing) from None
    except TransportError as exc:
        raise unavailable(exc, where, doing=doing) from None


def _read(client: Elasticsearch, where: str, target: str, asked: Span, window: float, backoff: Backoff,
          env: Env) -> tuple[Span, list[Hit], bool]:
    """The window widened to whole incidents, the recognised events in it (in time order), and
    whether ``target`` matched any data stream."""
    from shipper.enrich.relink import linking_span
    from shipper.sinks.es_search import PointInTime

    hits: list[Hit] = []
    pit: PointInTime
    with _refused(where, f"read the recognised events of {target}", "read"), \
            PointInTime(client, target, backoff=backoff) as pit:
        start, end = linking_span(*asked, window, pit.recognised_before, pit.recognised_after)
        for page in pit.recognised(start, end):
            hits += page
            _progress(env, f"relink: {len(hits):,} recognised events read")
    _progress(env, "")
    return (start, end), hits, pit.shards != 0


def _progress(env: Env, text: str) -> None:
    """One line on a terminal's stderr, rewritten as it goes ("" clears it)."""
    if env.stderr_isatty:
        env.stderr.write(f"\r{text}\x1b[K" if text else "\r\x1b[K")
        env.stderr.flush()


def _relinked(hits: list[Hit], window: float, start: str | None) -> tuple[list[tuple[Hit, Any]], Outcome]:
    """The hits whose ``rootcause`` linking changes (their sources changed in place), each with its
    old ``rootcause``; not those read from ``start`` on only for what they tell the others (a start
    of a unit that may end an incident older than that: `linked_whole`)."""
    from shipper.enrich.relink import linked_whole, relink

    old = [copy.deepcopy(hit.source.get("rootcause")) for hit in hits]
    relink([hit.source for hit in hits], window=window)
    changed = [(hit, before) for hit, before in zip(hits, old)
               if hit.source.get("rootcause") != before and linked_whole(hit.source, start, window)]
    return changed, Outcome(read=len(hits), unchanged=len(hits) - len(changed))


def _changes(old: Any, new: Any) -> str:
    """What linking changes in a ``rootcause``: its cause and incident, and which other fields."""
    old, new = old or {}, new or {}

    def cause(rc: dict[str, Any]) -> str:
        return str((rc.get("cause") or {}).get("signature", "none"))

    parts = [f"cause {cause(old)} -> {cause(new)}"] if cause(old) != cause(new) else []
    if old.get("incident") != new.get("incident"):
        parts.append(f"incident {old.get('incident')} -> {new.get('incident')}")
    others = sorted(k for k in set(old) | set(new) if k not in ("cause", "incident") and old.get(k) != new.get(k))
    return "; ".join(parts + ([f"{', '.join(others)} changed"] if others else [])) or "cause details changed"


def span_text(since: str | None, until: str | None) -> str:
    """``[since, until)`` in words: the end is not included."""
    if since is None and until is None:
        return "all of them"
    if until is None:
        return f"from {since} on"
    return f"{f'from {since} ' if since else ''}until {until} (not included)"


def _summary(env: Env, asked: Span, read: Span, stamps: list[str], outcome: Outcome, dry_run: bool) -> None:
    if not stamps:
        env.stdout.write(f"relink: no recognised events {'at all' if asked == (None, None) else span_text(*asked)}\n")
    else:
        got = f"{stamps[0]} to {stamps[-1]} (both included)"
        if read != asked:
            env.stdout.write(f"relink: asked: {span_text(*asked)}; read, widened to whole incidents: {got}\n")
        else:
            env.stdout.write(f"relink: read: {got}\n")
    if dry_run:
        would = outcome.read - outcome.unchanged
        env.stdout.write(f"relink: {outcome.read:,} recognised events read; {would:,} documents would be updated, "
                         f"{outcome.unchanged:,} unchanged (dry run: nothing written)\n")
        return
    retried = f" ({outcome.conflicts:,} changed meanwhile: read again and retried)" if outcome.conflicts else ""
    env.stdout.write(f"relink: {outcome.read:,} recognised events read; {outcome.updated:,} documents updated, "
                     f"{outcome.unchanged:,} unchanged, {outcome.not_written:,} not written{retried}\n")
    if outcome.stopped:
        env.stdout.write(f"relink: stopped writing: {outcome.stopped}; {outcome.unwritten:,} documents were not "
                         "written\n")


def _verdict(outcome: Outcome, env: Env) -> int:
    """The documents not written, on stderr, and the exit code."""
    if not outcome.not_written:
        return ExitCode.OK
    for line in outcome.failed[:_SHOWN_FAILURES]:
        env.stderr.write(f"relink: not written: {line}\n")
    if len(outcome.failed) > _SHOWN_FAILURES:
        env.stderr.write(f"relink: ... and {len(outcome.failed) - _SHOWN_FAILURES:,} more\n")
    n = outcome.not_written
    what = f"{n:,} document{'s' if n != 1 else ''}"
    if outcome.forbidden:
        raise UnavailableError(f"Elasticsearch refused to let shipper write {what} back (403: the index privilege "
                               "index is missing)", hint=PRIVILEGE_HINT)
    if outcome.unreachable and not outcome.updated:
        raise UnavailableError(f"{outcome.stopped}: nothing was written ({what} to write)",
                               hint="is Elasticsearch running, and is the URL right? Then run the same relink again")
    raise OutputError(f"{what} could not be written back ({outcome.updated:,} were){_why(outcome)}",
                      hint="run the same relink again once the cause is fixed: it writes only what still differs")


def _why(outcome: Outcome) -> str:
    return f": {outcome.stopped}" if outcome.stopped else " (listed above)"
