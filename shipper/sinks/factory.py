"""Builds the sinks a command asked for; heavy ones (Elasticsearch) are imported only when used."""

from __future__ import annotations

import argparse
import dataclasses

from shipper.config.elasticsearch import ElasticsearchOutput
from shipper.config.model import Config
from shipper.env import Env
from shipper.errors import UsageError
from shipper.sinks.base import Sink


def make_sinks(args: argparse.Namespace, cfg: Config, env: Env) -> list[Sink]:
    """``--output`` wins; else the outputs the config names; else the local store."""
    output = args.output
    if output is None:
        configured = [name for name in ("local", "ndjson", "elasticsearch") if getattr(cfg.output, name) is not None]
        output = {"elasticsearch": "es"}.get(configured[0], configured[0]) if len(configured) == 1 else "local"
        if len(configured) > 1:
            raise UsageError(
                f"the config names several outputs ({', '.join(configured)})", hint="choose one with --output"
            )
    if args.out is not None and output != "ndjson":
        raise UsageError("-o/--out goes with --output ndjson", hint="for the local store use --store PATH")
    if output == "ndjson":
        from shipper.sinks.ndjson import NdjsonSink

        path = args.out or (cfg.output.ndjson.path if cfg.output.ndjson else None)
        return [NdjsonSink(path=path) if path else NdjsonSink(stream=env.stdout_bytes)]
    if output == "es":
        from shipper.sinks.elasticsearch import ElasticsearchSink

        es = cfg.output.elasticsearch or ElasticsearchOutput()
        if args.es_url:
            es = dataclasses.replace(es, hosts=[args.es_url])
        # Without a config file, replay keeps its dead letter in the user's data directory
        # (the daemon's /var/lib/shipper is not for a user replaying archives on a laptop).
        state_dir = cfg.state_dir if getattr(args, "config", None) else env.data_dir
        return [ElasticsearchSink(es, state_dir, env)]
    from shipper.sinks.local import LocalSink

    store = args.store or (cfg.output.local.path if cfg.output.local and cfg.output.local.path else None)
    return [LocalSink(store or env.default_store)]
