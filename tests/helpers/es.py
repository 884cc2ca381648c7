"""Helpers for the Elasticsearch tests: documents, a sink against a fake cluster, commands run as the CLI does."""

from __future__ import annotations

import argparse
import importlib
import io
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from shipper.config.elasticsearch import ElasticsearchOutput
from shipper.env import Env
from shipper.errors import ShipperError
from shipper.event import Batch, Doc
from shipper.secrets import redact
from shipper.sinks.elasticsearch import ElasticsearchSink
from tests.fakees import FakeES

FAST = dict(retry_initial=0.005, retry_max=0.02)  # backoff fit for tests


def make_env(environ: dict[str, str] | None = None) -> Env:
    return Env(stdin=io.BytesIO(), stdout=io.StringIO(), stderr=io.StringIO(), environ=environ or {},
               clock=lambda: 1_504_100_000.25)


def syslog_docs(n: int, start: int = 0, **extra: Any) -> list[Doc]:
    """Documents shaped as the syslog parser makes them (docs/fields.md)."""
    return [
        {
            "@timestamp": f"2017-08-30T14:{(i // 60) % 60:02d}:{i % 60:02d}.000000Z",
            "message": f"daemon {i} started",
            "event": {"id": f"doc-{i:07d}", "dataset": "syslog", "kind": "event"},
            "host": {"name": "gorp"},
            "process": {"name": "sendmail", "pid": 1000 + i},
            **extra,
        }
        for i in range(start, start + n)
    ]


class Acks(list[int]):
    """The ack callback: remembers every acknowledged batch; a second ack of one batch is a bug."""

    def __call__(self, seq: int) -> None:
        assert seq not in self, f"batch {seq} acknowledged twice"
        self.append(seq)


def run_sink(url: str, batches: list[list[Doc]], tmp: Path, env: Env | None = None,
             **settings: Any) -> tuple[ElasticsearchSink, Acks]:
    """Open a sink on ``url``, write ``batches`` (seq = position), flush, close."""
    cfg = ElasticsearchOutput(hosts=[url], **{**FAST, **settings})
    sink = ElasticsearchSink(cfg, tmp / "state", env or make_env())
    acks = Acks()
    sink.open(acks)
    try:
        for seq, docs in enumerate(batches):
            sink.write(Batch(docs, seq=seq))
        sink.flush()
    finally:
        sink.close()
    return sink, acks


def run_command(name: str, argv: list[str], env: Env) -> int:
    """A command as `shipper.cli` runs it: its parser, its `run`, and the error boundary's redaction."""
    module = importlib.import_module(f"shipper.commands.{name}")
    parser = argparse.ArgumentParser(prog=f"shipper {name}")
    module.add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return int(module.run(args, env))
    except ShipperError as exc:
        env.stderr.write(redact(f"shipper: error: {exc}") + "\n")
        return int(exc.exit_code)


def out(env: Env) -> str:
    return env.stdout.getvalue()  # type: ignore[attr-defined]


def err(env: Env) -> str:
    return env.stderr.getvalue()  # type: ignore[attr-defined]


@contextmanager
def set_up_es(version: str = "8.15.3") -> Iterator[FakeES]:
    """A fake cluster with shipper's assets installed (`shipper setup`)."""
    with FakeES(version) as fake:
        assert run_command("setup", ["--es-url", fake.url], make_env()) == 0
        yield fake
