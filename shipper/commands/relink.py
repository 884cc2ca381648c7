"""`shipper relink`: link the recognised events Elasticsearch holds again, across the runs that sent them.

Each run links failures to causes among its own events, and the data streams keep the first copy
of a document (`op_type: create`): a failure replayed apart from its cause says "no cause found"
for good. This reads the recognised events of a window (widened to whole incidents:
`shipper.enrich.relink.linking_span`), links them as one replay of them all would
(`shipper.enrich.relink.relink`, what `causes` and `report` do with the local store), and writes
back the documents whose ``rootcause`` changed, each only if it did not change since it was read.
"""

from __future__ import annotations

import argparse
import copy
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator

from shipper.env import Env
from shipper.errors import ExitCode, OutputError, UnavailableError
from shipper.setup.options import add_es_arguments
from shipper.timeargs import add_window_arguments

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

    from shipper.event import Doc
    from shipper.sinks.es_search import Hit

HELP = "link failures to their causes again in what Elasticsearch holds, across the runs that sent them"
EXAMPLES = """\
examples:
  shipper relink --config shipper.yml --since 2017-08-30 --until 2017-08-31
  shipper relink --config shipper.yml --since 7d --dry-run     only say what would change
  shipper relink --es-url https://es1.example:9200 --config operator.yml

A failure and its cause sent by different runs (two replays, or an archive replayed after the
daemon shipped the failure) are linked as one run of both would link them. The window is widened
to whole incidents. Only documents whose rootcause.* changes are written, each only if nobody
changed it since it was read. It needs the index privileges read and index on logs-shipper.*-*
(the shipper's own key, create_doc, cannot change a document): use an operator's credentials.

exit status: 0 done (or nothing to change); 5 some documents could not be written (listed);
             6 unreachable, credentials refused, privileges missing, or the search failed
"""

PRIVILEGE_HINT = ("grant the index privileges read and index on logs-shipper.*-* to the credentials of the "
                  "config given (an operator's, not the shipper's API key, whose create_doc cannot change a "
                  "document); --dry-run needs read only")
_SHOWN_FAILURES = 20


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_es_arguments(p)
    add_window_arguments(p)
    p.add_argument("--dry-run", action="store_true", help="say which documents would change; write nothing")


@dataclass
class Outcome:
    read: int = 0
    updated: int = 0
    unchanged: int = 0
    conflicts: int = 0  # 409s: read again and retried
    failed: list[str] = field(default_factory=list)  # a line per document not written
    forbidden: bool = False  # some were refused for want of a privilege


def run(args: argparse.Namespace, env: Env) -> int:
    from shipper.config import load_config
    from shipper.setup.options import es_settings
    from shipper.sinks.es_client import connect
    from shipper.sinks.es_privileges import data_streams
    from shipper.timeargs import window_from_args

    since, until = window_from_args(args, env)
    es, _ = es_settings(args)
    window = float(load_config(args.config).recognise.incident_window)  # (linked as the runs that sent them)
    target = data_streams(es.namespace)
    conn = connect(es, env)
    try:
        _check_privileges(conn.client, es.namespace, ("read",) if args.dry_run else ("read", "index"))
        (start, end), hits = _read(conn.client, conn.where, target, (since, until), window, env)
        changed, outcome = _relinked(hits, window)
        if args.dry_run:
            for hit, old in changed:
                env.stdout.write(f"  would update {_describe(hit)}: {_changes(old, hit.source.get('rootcause'))}\n")
        else:
            _write(conn.client, conn.where, [hit for hit, _ in changed], outcome)
    finally:
        conn.close()
    _summary(env, (since, until), (start, end), outcome, args.dry_run)
    return _verdict(outcome, env)


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


def _read(client: Elasticsearch, where: str, target: str, asked: tuple[str | None, str | None], window: float,
          env: Env) -> tuple[tuple[str | None, str | None], list[Hit]]:
    """The window widened to whole incidents, and the recognised events in it, in time order."""
    from shipper.enrich.relink import linking_span
    from shipper.sinks.es_search import PointInTime

    hits: list[Hit] = []
    with _refused(where, f"read the recognised events of {target}", "read"), PointInTime(client, target) as pit:
        start, end = linking_span(*asked, window, pit.recognised_before, pit.recognised_after)
        for page in pit.recognised(start, end):
            hits += page
            _progress(env, f"relink: {len(hits):,} recognised events read")
    _progress(env, "")
    return (start, end), hits


def _progress(env: Env, text: str) -> None:
    """One line on a terminal's stderr, rewritten as it goes ("" clears it)."""
    if env.stderr_isatty:
        env.stderr.write(f"\r{text}\x1b[K" if text else "\r\x1b[K")
        env.stderr.flush()


def _relinked(hits: list[Hit], window: float) -> tuple[list[tuple[Hit, Any]], Outcome]:
    """The hits whose ``rootcause`` linking changes (their sources changed in place), each with its
    old ``rootcause``."""
    from shipper.enrich.relink import relink

    old = [copy.deepcopy(hit.source.get("rootcause")) for hit in hits]
    relink([hit.source for hit in hits], window=window)
    changed = [(hit, before) for hit, before in zip(hits, old) if hit.source.get("rootcause") != before]
    return changed, Outcome(read=len(hits), unchanged=len(hits) - len(changed))


def _write(client: Elasticsearch, where: str, hits: list[Hit], outcome: Outcome) -> None:
    """Index the relinked documents back, a page at a time; a 409 (changed since read) is read again
    and retried once."""
    from shipper.sinks.es_search import PAGE

    for first in range(0, len(hits), PAGE):
        conflicts: list[Hit] = []
        chunk = hits[first:first + PAGE]
        for hit, item in zip(chunk, _bulk(client, where, [(hit, hit.source) for hit in chunk])):
            if item.get("status") == 409:
                conflicts.append(hit)
            else:
                _count(outcome, hit, item)
        for hit in conflicts:
            outcome.conflicts += 1
            _retry(client, where, hit, outcome)


def _retry(client: Elasticsearch, where: str, hit: Hit, outcome: Outcome) -> None:
    """``hit`` changed since it was read: its new ``rootcause`` on the document as it is now."""
    from shipper.sinks.es_search import read_again

    with _refused(where, f"read {hit.index}/{hit.id} again", "read"):
        now = read_again(client, hit)
    if now is None:
        outcome.failed.append(f"{_describe(hit)}: deleted since it was read")
    elif now.source.get("rootcause") == hit.source.get("rootcause"):
        outcome.unchanged += 1  # (another relink wrote the same links meanwhile)
    else:
        (item,) = _bulk(client, where, [(now, {**now.source, "rootcause": hit.source.get("rootcause")})])
        if item.get("status") == 409:
            outcome.failed.append(f"{_describe(hit)}: changed again while relink wrote it (409); run relink again")
        else:
            _count(outcome, hit, item)


def _bulk(client: Elasticsearch, where: str, docs: list[tuple[Hit, Doc]]) -> list[dict[str, Any]]:
    """Each document's bulk item result (``{"status": …, "error": …}``), in order."""
    from shipper.sinks.es_search import index_actions

    with _refused(where, "write the relinked documents back", "index"):
        # pipeline=_none: the source read back went through the data stream's default pipeline
        # (pipelines/logs-shipper-default.json) when it was first indexed. That pipeline is
        # idempotent on it (event.kind is set only if missing, host.name is lower case already,
        # process.pid a number or renamed already, log.level trimmed) but for one processor:
        # event.ingested would become the time of the relink. Skipping it keeps the document as it
        # was but for rootcause.* (a final_pipeline, which shipper's template sets none of, would
        # still run).
        body = client.bulk(operations=index_actions(docs), pipeline="_none",
                           filter_path="items.*.status,items.*.error").body
    return [next(iter(item.values())) for item in body["items"]]


def _count(outcome: Outcome, hit: Hit, item: dict[str, Any]) -> None:
    from shipper.sinks.es_errors import error_reason

    status = int(item.get("status", 0))
    if 200 <= status < 300:
        outcome.updated += 1
        return
    outcome.forbidden |= status == 403
    outcome.failed.append(f"{_describe(hit)}: {status} {error_reason(item)}")


def _describe(hit: Hit) -> str:
    rc = hit.source.get("rootcause") or {}
    return f"{hit.index}/{hit.id} ({hit.source.get('@timestamp')} {rc.get('signature', '?')})"


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


def _summary(env: Env, asked: tuple[str | None, str | None], read: tuple[str | None, str | None],
             outcome: Outcome, dry_run: bool) -> None:
    def span(since: str | None, until: str | None) -> str:
        return f"{since or 'the first event'} to {until or 'the last event'}"

    widened = f" (widened from {span(*asked)} to whole incidents)" if read != asked else ""
    env.stdout.write(f"relink: window read: {span(*read)}{widened}\n")
    if dry_run:
        would = outcome.read - outcome.unchanged
        env.stdout.write(f"relink: {outcome.read:,} recognised events read; {would:,} documents would be updated, "
                         f"{outcome.unchanged:,} unchanged (dry run: nothing written)\n")
        return
    retried = f" ({outcome.conflicts:,} changed meanwhile: read again and retried)" if outcome.conflicts else ""
    env.stdout.write(f"relink: {outcome.read:,} recognised events read; {outcome.updated:,} documents updated, "
                     f"{outcome.unchanged:,} unchanged, {len(outcome.failed):,} failed{retried}\n")


def _verdict(outcome: Outcome, env: Env) -> int:
    """The documents not written, on stderr, and the exit code."""
    if not outcome.failed:
        return ExitCode.OK
    for line in outcome.failed[:_SHOWN_FAILURES]:
        env.stderr.write(f"relink: not written: {line}\n")
    if len(outcome.failed) > _SHOWN_FAILURES:
        env.stderr.write(f"relink: ... and {len(outcome.failed) - _SHOWN_FAILURES:,} more\n")
    n = len(outcome.failed)
    what = f"{n:,} document{'s' if n != 1 else ''}"
    if outcome.forbidden:
        raise UnavailableError(f"Elasticsearch refused to let shipper write {what} back (403: the index privilege "
                               "index is missing)", hint=PRIVILEGE_HINT)
    raise OutputError(f"{what} could not be written back (listed above); the others were",
                      hint="fix what the reasons say, then run the same relink again: it writes only what still "
                           "differs")
