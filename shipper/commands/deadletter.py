"""`shipper deadletter list|retry`: the documents Elasticsearch refused, and sending them again."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from shipper.env import Env
from shipper.errors import ExitCode, UsageError
from shipper.setup.options import add_es_arguments

if TYPE_CHECKING:
    from shipper.config.elasticsearch import ElasticsearchOutput
    from shipper.sinks.deadletter import DeadLetterStore

HELP = "list the documents Elasticsearch refused (the dead letter), or send them again after a fix"
EXAMPLES = """\
examples:
  shipper deadletter list --config /etc/shipper/shipper.yml        what was refused, and why
  shipper deadletter list --json | jq .reason
  shipper deadletter retry --config /etc/shipper/shipper.yml       re-send all (after fixing the mapping)
  shipper deadletter retry --id 12 --id 13

A document refused again stays in the dead letter with the new error; one accepted (or already
in Elasticsearch) is removed from it.
"""
RETRY_BATCH = 500


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    lst = sub.add_parser("list", help="show the dead letter")
    retry = sub.add_parser("retry", help="send dead-lettered documents to Elasticsearch again")
    for q in (lst, retry):
        add_es_arguments(q)
        q.add_argument("--state-dir", type=Path, help="where the dead letter is (default: state_dir of the config)")
    lst.add_argument("--limit", type=int, default=50, help="show at most this many (default 50; 0: all)")
    lst.add_argument("--json", action="store_true", help="one JSON object per line, with the document")
    retry.add_argument("--id", type=int, action="append", help="retry only this row (repeatable; default: all)")


def run(args: argparse.Namespace, env: Env) -> int:
    from shipper.setup.options import Purpose, es_settings
    from shipper.sinks.deadletter import FILENAME, DeadLetterStore

    # (retry sends to a cluster: told none, an error, not a guess at localhost; list reads only)
    es, state_dir = es_settings(args, Purpose("deadletter retry", "send the documents to", "the shipper's")
                                if args.action == "retry" else None)
    state_dir = args.state_dir or state_dir
    path = state_dir / FILENAME
    if not path.exists() or path.stat().st_size == 0:  # (an empty file is an empty SQLite database)
        if args.action == "retry" and args.id:
            raise _no_such_ids(args.id, path)
        env.stdout.write(f"the dead letter {path} is empty: Elasticsearch has refused no document\n")
        return ExitCode.OK
    store = DeadLetterStore(path, read_only=args.action == "list")  # list reads it: creates and changes nothing
    try:
        if args.action == "list":
            return _list(store, args, env)
        return _retry(store, args, env, es, state_dir)
    finally:
        store.close()


def _list(store: "DeadLetterStore", args: argparse.Namespace, env: Env) -> int:
    import orjson

    letters = store.letters(limit=args.limit or None)
    for x in letters:
        if args.json:
            row = {"id": x.id, "at": x.at, "target": x.target, "doc_id": x.doc_id, "status": x.status,
                   "error_type": x.error_type, "reason": x.reason, "attempts": x.attempts,
                   "document": x.source.decode("utf-8", "replace")}
            env.stdout.write(orjson.dumps(row).decode() + "\n")
        else:
            env.stdout.write(f"{x.id:>6}  {x.at[:19]}Z  {x.target}  {x.doc_id or '-'}  {x.status}  "
                             f"{x.reason[:160]}{'...' if len(x.reason) > 160 else ''}\n")
    if not args.json:
        total = store.count()
        env.stdout.write(f"{len(letters)} of {total} dead-lettered document{'s' if total != 1 else ''} shown\n")
    return ExitCode.OK


def _retry(store: "DeadLetterStore", args: argparse.Namespace, env: Env, es: "ElasticsearchOutput",
           state_dir: Path) -> int:
    import orjson

    from shipper.event import Batch
    from shipper.sinks.elasticsearch import ElasticsearchSink

    letters = store.letters(ids=args.id)
    missing = set(args.id or ()) - {x.id for x in letters}
    if missing:  # before anything is sent: the operator meant other entries
        raise _no_such_ids(missing, store.path)
    if not letters:
        env.stdout.write("nothing to retry: the dead letter is empty\n")
        return ExitCode.OK
    sink = ElasticsearchSink(es, state_dir, env)
    sink.open(lambda seq: None)
    try:
        for seq, start in enumerate(range(0, len(letters), RETRY_BATCH)):
            sink.write(Batch([orjson.loads(x.source) for x in letters[start:start + RETRY_BATCH]], seq=seq))
        sink.flush()
    finally:
        sink.close()
    removed = store.remove_settled(letters)
    c = sink.counters
    env.stdout.write(f"retried {len(letters)}: {c['indexed']} indexed, {c['duplicates']} already in Elasticsearch, "
                     f"{c['dead_lettered']} refused again; {removed} removed from the dead letter\n")
    return ExitCode.OK if not c["dead_lettered"] else ExitCode.OUTPUT


def _no_such_ids(ids: Iterable[int], path: Path) -> UsageError:
    """--id naming entries the dead letter does not hold (a mistyped id, or one retried already)."""
    unique = sorted(set(ids))
    listed = ", ".join(str(i) for i in unique)
    what = f"no entry with the id {listed}" if len(unique) == 1 else f"no entries with the ids {listed}"
    return UsageError(f"the dead letter {path} has {what}",
                      hint="`shipper deadletter list` (with the same --config or --state-dir) shows the ids; "
                           "an entry retried with success is removed from it")
