"""Command-line options shared by `setup`, `check`, `relink` and `deadletter`: where the config and the cluster are."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import NamedTuple

from shipper.config.elasticsearch import ElasticsearchOutput, with_url
from shipper.errors import UsageError


class Purpose(NamedTuple):
    """What a command does to the cluster, for the error when it is told no cluster."""

    command: str  # "setup"
    verb: str  # "set up"
    credentials: str = "an operator's"  # whose credentials the config should hold


def add_es_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="a shipper.yml; its output.elasticsearch section is used")
    p.add_argument("--es-url", help="the Elasticsearch URL (overrides output.elasticsearch.hosts; "
                                    "credentials come from the config, never from the command line)")


def es_settings(args: argparse.Namespace, purpose: Purpose | None = None) -> tuple[ElasticsearchOutput, Path]:
    """The Elasticsearch output settings and the state directory, from --config and --es-url. With a
    ``purpose``, naming no cluster is an error (`named_cluster`); else it is http://localhost:9200."""
    from shipper.config import load_config

    cfg = load_config(args.config)
    if purpose is not None:
        return named_cluster(args, cfg.output.elasticsearch, purpose), cfg.state_dir
    es = cfg.output.elasticsearch or ElasticsearchOutput()
    return (with_url(es, args.es_url) if args.es_url else es), cfg.state_dir


def named_cluster(args: argparse.Namespace, es: ElasticsearchOutput | None, purpose: Purpose) -> ElasticsearchOutput:
    """The cluster --es-url names (with the credentials of ``es``, --config's output.elasticsearch),
    else ``es``'s. Naming none is an error (exit 2), not a guess at localhost: a command would
    change, or vouch for, a cluster the operator did not mean."""
    if es is None and not args.es_url:
        where = f"{args.config} has no output.elasticsearch section" if args.config else "no --config given"
        raise UsageError(f"{purpose.command} needs to know which Elasticsearch to {purpose.verb}: {where}, and no "
                         "--es-url", hint=f"give --config with an output.elasticsearch section (hosts and "
                                          f"{purpose.credentials} credentials), or --es-url")
    es = es or ElasticsearchOutput()
    return with_url(es, args.es_url) if args.es_url else es
