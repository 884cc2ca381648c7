"""Elasticsearch server logs around changes of summer time: their zone-less stamps (log4j's,
SonarQube's, 7.x JSON's) follow the passes of the repeated autumn hour in order, and a time of the
skipped spring hour is tagged ``timestamp_nonexistent``, as syslog's are. The pass is parser state
(`ElasticsearchParser.state`), as are the kind and the stream of the record held open."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest

from shipper.cli import main
from shipper.config.model import RecogniseConfig
from shipper.enrich.chain import default_enrichers
from shipper.env import Env
from shipper.event import Doc
from shipper.parallel.replay import ParallelReplay
from shipper.parse.base import ParseContext
from shipper.parse.common import TAG_TIMESTAMP_NONEXISTENT
from shipper.parse.dispatch import make_parser
from shipper.parse.localtime import load_zone
from shipper.pipeline import Pipeline
from shipper.sinks.ndjson import NdjsonSink
from shipper.sources.base import Origin, RawChunk
from shipper.sources.files import TextSource
from shipper.sources.open import open_inputs
from tests.helpers.parse import Lines, parse_text

BERLIN = "Europe/Berlin"
ORIGIN = Origin("es", "elasticsearch", "/var/log/test.log")  # (the path `parse_text` gives)

# Berlin's clocks went back at 03:00 CEST on 2017-10-29 (01:00Z): 02:00-02:59 came twice.
AUTUMN = [
    "[2017-10-29T02:50:00,100][INFO ][o.e.n.Node               ] [n1] first pass",
    "2017.10.29 02:55:00 INFO  es[][o.e.n.Node] sonar, first pass",
    '{"type": "server", "timestamp": "2017-10-29T02:58:00,000", "level": "WARN", "component": "o.e.c.r.a.DiskThresholdMonitor", "message": "json, first pass"}',
    "[2017-10-29T02:05:00,000][ERROR][o.e.b.Bootstrap          ] [n1] second pass",
    "java.lang.IllegalStateException: failed",
    "\tat org.elasticsearch.env.NodeEnvironment.<init>(NodeEnvironment.java:300)",
    "2017.10.29 02:06:00 INFO  es[][o.e.n.Node] sonar, second pass",
    '{"type": "server", "timestamp": "2017-10-29T02:07:00,000", "level": "WARN", "component": "o.e.m.j.JvmGcMonitorService", "message": "json, second pass"}',
    "[2017-10-29T03:00:00,000][INFO ][o.e.n.Node               ] [n1] after",
]
AUTUMN_UTC = ["2017-10-29T00:50:00", "2017-10-29T00:55:00", "2017-10-29T00:58:00", "2017-10-29T01:05:00",
              "2017-10-29T01:06:00", "2017-10-29T01:07:00", "2017-10-29T02:00:00"]


def parse(lines: list[str], chunk: int = 2000) -> list[Doc]:
    return parse_text("elasticsearch", Lines(lines, [i * 200 for i in range(len(lines))]), timezone=BERLIN, chunk=chunk)


def stamps(docs: list[Doc]) -> list[str]:
    return [str(d["@timestamp"])[:19] for d in docs]


def test_the_second_pass_of_the_repeated_hour_is_standard_time() -> None:
    assert stamps(parse(AUTUMN)) == AUTUMN_UTC
    assert stamps(parse(AUTUMN, chunk=1)) == AUTUMN_UTC
    assert not any(TAG_TIMESTAMP_NONEXISTENT in d.get("tags", ()) for d in parse(AUTUMN))


def test_a_time_of_the_skipped_hour_is_read_as_mktime_reads_it_and_tagged() -> None:
    docs = parse([
        "[2017-03-26T01:59:59,000][INFO ][o.e.n.Node] [n1] before",
        "[2017-03-26T02:30:00,000][INFO ][o.e.n.Node] [n1] skipped",
        "2017.03.26 02:45:10 INFO  es[][o.e.n.Node] sonar, skipped",
        '{"type": "server", "timestamp": "2017-03-26T02:50:00,000", "level": "INFO", "message": "json, skipped"}',
        '{"@timestamp": "2017-03-26T02:50:00.000+01:00", "log.level": "INFO", "message": "an offset: it exists"}',
        "ERROR: no stamp",
        "[2017-03-26T03:00:00,000][INFO ][o.e.n.Node] [n1] after",
    ])
    assert stamps(docs) == ["2017-03-26T00:59:59", "2017-03-26T01:30:00", "2017-03-26T01:45:10", "2017-03-26T01:50:00",
                            "2017-03-26T01:50:00", "2017-03-26T01:50:00", "2017-03-26T01:00:00"]
    assert [d.get("tags", []) for d in docs] == [[], *[[TAG_TIMESTAMP_NONEXISTENT]] * 3, [], ["timestamp_inferred"], []]


# What a parallel replay restores at a block's start: a JSON record and a compose container's record
# held open (the next lines fold into them by their kind and stream), and the pass of the hour.
HELD = [
    *AUTUMN[:3],
    "es01  | [2017-10-29T02:59:00,000][WARN ][o.e.c.c.Coordinator] [es01] container, first pass",
    "es01  | \tat org.elasticsearch.cluster.Coordinator.run(Coordinator.java:1)",
    '{"type": "server", "timestamp": "2017-10-29T02:04:00,000", "level": "WARN", "message": "json, second pass"}',
    "\tat org.elasticsearch.Foo.bar(Foo.java:1)",
    *AUTUMN[3:],
]


def test_the_state_carries_the_pass_and_the_open_record_to_another_parser() -> None:
    """`state` after any line, `restore` in a new parser, the rest there: one parser's documents."""
    ctx = ParseContext(BERLIN)
    whole = parse(HELD)
    assert stamps(whole) == [*AUTUMN_UTC[:3], "2017-10-29T00:59:00", "2017-10-29T01:04:00",
                             *AUTUMN_UTC[3:]]
    assert whole[3]["container"] == {"name": "es01"} and "Coordinator.run" in whole[3]["message"]
    assert "Foo.bar" in whole[4]["message"]
    for cut in range(len(HELD) + 1):
        first = make_parser(ORIGIN, ctx)
        docs = first.parse(RawChunk(ORIGIN, "text", HELD[:cut], [i * 200 for i in range(cut)]))
        second = make_parser(ORIGIN, ctx)
        second.restore(first.state())
        assert second.state() == first.state()
        rest = HELD[cut:]
        docs += second.parse(RawChunk(ORIGIN, "text", rest, [i * 200 for i in range(cut, len(HELD))])) + second.flush()
        assert docs == whole, f"cut after line {cut}"


def night(start: datetime, hours: int, step: int = 7) -> list[str]:
    """A log4j line every ``step`` seconds of real time from ``start`` (UTC), as a Berlin node writes it."""
    berlin = load_zone(BERLIN)
    return [f"[{(start + timedelta(seconds=s)).astimezone(berlin):%Y-%m-%dT%H:%M:%S},000][INFO ][o.e.n.Node] [n1] tick {s}"
            for s in range(0, hours * 3600, step)]


AUTUMN_NIGHT = night(datetime(2017, 10, 28, 23, 30, tzinfo=timezone.utc), 2)
SPRING_NIGHT = night(datetime(2017, 3, 26, 0, 30, tzinfo=timezone.utc), 1, 60)
SKIPPED = ["[2017-03-26T02:10:00,000][INFO ][o.e.n.Node] [n1] skipped"]


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "es.log"
    path.write_text("\n".join(AUTUMN_NIGHT + SPRING_NIGHT + SKIPPED) + "\n")
    return path


def replay(env: Env, log: Path, workers: str) -> list[dict]:
    out = log.with_suffix(f".w{workers}.ndjson")
    stderr = io.StringIO()
    args = ["replay", "--timezone", BERLIN, "--format", "elasticsearch", "--workers", workers, "--output", "ndjson",
            "-o", str(out), str(log)]
    assert main(args, replace(env, stderr=stderr)) == 0, stderr.getvalue()
    return [orjson.loads(line) for line in out.read_bytes().splitlines()]


def test_the_cli_reads_a_night_in_order_with_and_without_workers(env: Env, log: Path) -> None:
    """An Elasticsearch log is read by one process (`eligible`), with --workers too."""
    docs = replay(env, log, "0")
    assert replay(env, log, "2") == docs
    autumn = [d["@timestamp"] for d in docs[: len(AUTUMN_NIGHT)]]
    assert autumn == sorted(autumn) and len(set(autumn)) == len(AUTUMN_NIGHT)
    spring = docs[len(AUTUMN_NIGHT) :]
    assert [d.get("tags") for d in spring if d.get("tags")] == [[TAG_TIMESTAMP_NONEXISTENT]]
    assert spring[-1]["@timestamp"] == "2017-03-26T01:10:00.000000Z"


@pytest.mark.parametrize("block_size", [1024, 4096])
def test_the_parallel_replay_carries_the_pass_across_blocks(log: Path, block_size: int) -> None:
    """The parallel replay's machinery on this format (replay itself reads it in one process):
    blocks start from a restored state, checked against the previous block's end."""

    def run(workers: int) -> bytes:
        groups = open_inputs([str(log)], fmt="elasticsearch", max_line_bytes=4096)
        for group in groups:
            for source in group.sources:
                assert isinstance(source, TextSource)
                source.block_size = block_size
        ctx, out = ParseContext(BERLIN), io.BytesIO()
        enrichers = default_enrichers(RecogniseConfig())
        if workers:
            ParallelReplay(groups, ctx, enrichers[-1], [NdjsonSink(out)], workers).run()
        else:
            Pipeline(groups, ctx, make_parser, enrichers, [NdjsonSink(out)]).run()
        return out.getvalue()

    assert run(2) == run(0)
