"""Elasticsearch output throughput: prints docs/s and the shipper's CPU seconds.

    python bench/es.py [--lines 1000000] [--runs 3]

Two cases, both into a local Elasticsearch-protocol endpoint that costs little CPU (another
process, bench/endpoint.py: it counts the documents of each bulk body on the raw bytes and answers in one send):
  * `shipper replay --output es` of N generated RFC 3164 lines: parsing, recognition, the sink;
  * the sink alone, fed documents already built (what the sink itself costs per document).
Reference on this machine (issue 4): rsyslog's omelasticsearch, raw lines, ~180k docs/s and
6.6 CPU-s per 1M. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import gen  # noqa: E402
from endpoint import Endpoint  # noqa: E402
from replay import SHIPPER, measure  # noqa: E402


def sink_only(url: str, lines: int, state: Path) -> tuple[float, float]:
    """Wall and CPU seconds of the sink alone for ``lines`` documents built beforehand."""
    from shipper.config.elasticsearch import ElasticsearchOutput
    from shipper.env import Env
    from shipper.event import Batch
    from shipper.sinks.elasticsearch import ElasticsearchSink

    docs = [{"@timestamp": f"2024-03-01T12:{i // 60 % 60:02d}:{i % 60:02d}.000000Z",
             "message": f"{i:08x}: to=<ops@example.com>, delay=00:00:01, mailer=esmtp, stat=Sent",
             "event": {"id": f"bench{i:012d}", "dataset": "syslog", "kind": "event"},
             "host": {"name": "gorp"}, "process": {"name": "sendmail", "pid": 4242},
             "log": {"file": {"path": "/var/log/maillog"}, "offset": i * 120}} for i in range(lines)]
    sink = ElasticsearchSink(ElasticsearchOutput(hosts=[url]), state, Env())
    sink.open(lambda seq: None)
    wall, cpu = time.perf_counter(), time.process_time()
    for seq, start in enumerate(range(0, lines, 1000)):
        sink.write(Batch(docs[start:start + 1000], seq=seq))
    sink.flush()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    sink.close()
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with Endpoint() as endpoint, tempfile.TemporaryDirectory(prefix="shipper-bench-es-") as tmp:
        url = endpoint.url
        work = Path(tmp)
        text = work / "messages"
        text.write_text("\n".join(gen.syslog_lines(args.lines)) + "\n")
        config = work / "shipper.yml"
        config.write_text(f"state_dir: {work / 'state'}\n")
        print(f"input: {args.lines:,} RFC 3164 lines, {text.stat().st_size / 1e6:.0f} MB; endpoint {url}", flush=True)
        cmd = [*SHIPPER, "replay", "--output", "es", "--es-url", url, "--config", str(config),
               "--timezone", "UTC", "--year", "2024", "--quiet", str(text)]
        runs = [measure(cmd) for _ in range(args.runs)]
        wall, cpu = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
        print(f"{'replay --output es (full pipeline)':<36} {args.lines / wall:>10,.0f} docs/s  {wall:6.2f} s wall  "
              f"{cpu:6.2f} CPU-s  {max(r[2] for r in runs) / 1024:5.0f} MB peak RSS  (median of {args.runs})", flush=True)
        alone = [sink_only(url, args.lines, work / "state") for _ in range(args.runs)]
        wall, cpu = statistics.median(a[0] for a in alone), statistics.median(a[1] for a in alone)
        print(f"{'the sink alone':<36} {args.lines / wall:>10,.0f} docs/s  {wall:6.2f} s wall  {cpu:6.2f} CPU-s"
              f"  (median of {args.runs})", flush=True)


if __name__ == "__main__":
    main()
