"""Command-line options shared by `setup`, `check` and `deadletter`: where the config and the cluster are."""

from __future__ import annotations

import argparse
from pathlib import Path

from shipper.config.elasticsearch import ElasticsearchOutput, with_url


def add_es_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="a shipper.yml; its output.elasticsearch section is used")
    p.add_argument("--es-url", help="the Elasticsearch URL (overrides output.elasticsearch.hosts; "
                                    "credentials come from the config, never from the command line)")


def es_settings(args: argparse.Namespace) -> tuple[ElasticsearchOutput, Path]:
    """The Elasticsearch output settings and the state directory, from --config and --es-url."""
    from shipper.config import load_config

    cfg = load_config(args.config)
    es = cfg.output.elasticsearch or ElasticsearchOutput()
    if args.es_url:
        es = with_url(es, args.es_url)
    return es, cfg.state_dir
