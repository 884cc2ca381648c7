"""Builds the sinks a command asked for; heavy ones (Elasticsearch) are imported only when used."""

from __future__ import annotations

from pathlib import Path

from shipper.config.elasticsearch import ElasticsearchOutput, with_url
from shipper.config.model import Config
from shipper.env import Env
from shipper.errors import UsageError
from shipper.sinks.base import Sink


def make_sinks(
    cfg: Config,
    env: Env,
    *,
    state_dir: Path,
    output: str | None = None,
    store: Path | None = None,
    out: Path | None = None,
    es_url: str | None = None,
    daemon: bool = False,
) -> list[Sink]:
    """``output`` (--output) wins; else the outputs the config names; else the local store.
    ``state_dir`` is where the Elasticsearch sink keeps its dead letter. ``daemon`` (`shipper run`):
    the sink does not make it (the lock did), and what is acknowledged is on disk first: an NDJSON
    file is synced, a local store's commit is durable (the sinks' ``durable``)."""
    if output is None:
        configured = cfg.output.configured()
        output = {"elasticsearch": "es"}.get(configured[0], configured[0]) if len(configured) == 1 else "local"
        if len(configured) > 1:
            raise UsageError(
                f"the config names several outputs ({', '.join(configured)})", hint="choose one with --output"
            )
    if out is not None and output != "ndjson":
        raise UsageError("-o/--out goes with --output ndjson", hint="for the local store use --store PATH")
    if output == "ndjson":
        from shipper.sinks.ndjson import NdjsonSink

        path = out or (cfg.output.ndjson.path if cfg.output.ndjson else None)
        # -o FILE is written afresh; the configured file (the daemon's output) is appended to.
        if not path:
            return [NdjsonSink(stream=env.stdout_bytes)]
        return [NdjsonSink(path=path, truncate=out is not None, durable=daemon)]
    if output == "es":
        from shipper.sinks.elasticsearch import ElasticsearchSink

        es = cfg.output.elasticsearch or ElasticsearchOutput()
        if es_url:
            es = with_url(es, es_url)
        return [ElasticsearchSink(es, state_dir, env, daemon=daemon)]
    from shipper.sinks.local import LocalSink

    local = cfg.output.local
    return [LocalSink(store or (local.path if local and local.path else None) or env.default_store, durable=daemon,
                      incident_window=float(cfg.recognise.incident_window))]
